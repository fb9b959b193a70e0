package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.mesh.MeshDims;
import ai.omnispark.parallel.optim.GradClip;
import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.ManagedBytes;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.Placement;
import ai.omnispark.parallel.param.PlacementStore;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fully sharded parameters: each unit's flat tensor is padded to a multiple of the group size and
 * each rank keeps one slice as fp32 master weights, with the gradient and AdamW state of that slice
 * only. Full parameters exist only while the engine computes with them: gathered on acquire
 * (prefetched one unit ahead), freed on release. Gradients are reduce-scattered into the shards.
 *
 * <p>Frozen units (a store built with {@code trainable} false) keep their slice of the weights and
 * nothing else: they are gathered on acquire like any unit, but have no gradient shard, no decay
 * mask, no reduce-scatter and no optimizer state.
 *
 * <p>Reduction is a sum, not an average: the trainer already divides the loss by the token count of
 * the global batch, so the sum over ranks is the gradient of the global mean loss.
 */
public final class FsdpParams implements PlacementStore {
    private final ShardGroup group;
    private final Placement placement;
    private final NDManager manager;
    private final Map<String, UnitLayout> layouts = new LinkedHashMap<>();
    private final Map<String, Long> padded = new HashMap<>();
    private final Map<String, NDArray> shards = new LinkedHashMap<>();
    private final Map<String, NDArray> gradShards = new LinkedHashMap<>();
    private final Map<String, NDArray> decayShards = new LinkedHashMap<>();
    private final Map<String, Gathered> gathered = new HashMap<>();
    private final DataType dtype;
    private final boolean reshardAfterForward;
    private Reduction inFlight;

    /** A gradient reduce-scatter under way, and the temporaries it writes into. */
    private record Reduction(String unit, NDArray shard, ShardGroup.Pending pending, NDManager owner) {}

    /** A unit's full parameters, being or having been gathered. */
    private record Gathered(NDArray full, ShardGroup.Pending pending, NDManager owner) {}

    /** Every rank builds the same initial weights from {@code seed} and keeps its own slice. */
    public FsdpParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed, ShardGroup group) {
        this(parent, units, dtype, seed, group, true);
    }

    /**
     * @param reshardAfterForward free gathered parameters after each use (and gather again for
     *     backward); false keeps them until the optimizer step, trading memory for communication
     */
    public FsdpParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed, ShardGroup group,
            boolean reshardAfterForward) {
        this(parent, units, dtype, seed, group, reshardAfterForward, true);
    }

    /**
     * @param trainable whether these units train; every unit's parameters must agree (use
     *     {@link ParamStores#build} for a model mixing trainable and frozen units)
     */
    public FsdpParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed, ShardGroup group,
            boolean reshardAfterForward, boolean trainable) {
        for (UnitLayout u : units) {
            Placement.requireTrainable(u, trainable);
        }
        this.placement = new Placement(List.of(MeshDims.DP_SHARD), trainable);
        this.group = group;
        this.reshardAfterForward = reshardAfterForward;
        this.dtype = dtype;
        this.manager = parent.newSubManager();
        manager.setName(trainable ? "fsdp-params" : "fsdp-params-frozen");
        for (UnitLayout u : units) {
            layouts.put(u.name(), u);
            long n = u.numel();
            long size = group.size();
            long p = (n + size - 1) / size * size;
            padded.put(u.name(), p);
            long shardLen = p / size;
            long start = group.rank() * shardLen;
            long end = start + shardLen;
            // Every rank computes the whole unit's initialisation (it is sequential per parameter)
            // and keeps its own elements, a part at a time: no Java-backed copy is made or kept.
            NDArray shard = manager.zeros(new Shape(shardLen), dtype);
            u.initialValues(seed, HostCopy.CHUNK, (offset, values, length) -> {
                long b = Math.max(offset, start);
                long e = Math.min(offset + length, end);
                if (b < e) {
                    HostCopy.write(values, (int) (b - offset), (int) (e - b), shard, b - start);
                }
            });
            shards.put(u.name(), shard);
            if (!trainable) {
                continue; // no gradient shard, no decay mask: nothing but the weights
            }
            gradShards.put(u.name(), manager.zeros(new Shape(shardLen), dtype));
            NDArray mask = manager.zeros(new Shape(shardLen), dtype);
            for (long[] r : u.decayRanges()) {
                long b = Math.max(r[0], start);
                long e = Math.min(r[1], end);
                if (b < e) {
                    HostCopy.fill(mask, b - start, e - start, 1);
                }
            }
            decayShards.put(u.name(), mask);
        }
    }

    @Override
    public Placement placement() {
        return placement;
    }

    @Override
    public boolean trainable(String unit) {
        shard(unit);
        return placement.trainable();
    }

    @Override
    public List<UnitLayout> layouts() {
        return new ArrayList<>(layouts.values());
    }

    /** This rank's slice of {@code unit}'s master weights. */
    public NDArray shard(String unit) {
        NDArray s = shards.get(unit);
        if (s == null) {
            throw new IllegalArgumentException("no unit named " + unit + "; units are " + shards.keySet());
        }
        return s;
    }



    /**
     * This rank's slice of {@code unit}'s gradient summed over the ranks (finishing the reduction in
     * flight), as the optimizer will see it; zeroed by the next step. Null for a frozen unit.
     */
    public NDArray gradShard(String unit) {
        finishReduction();
        shard(unit);
        return gradShards.get(unit);
    }

    /** Bytes of weight shards, gradient shards and optimizer state this rank holds (live tensors). */
    @Override
    public long stateBytes(Optimizer optimizer) {
        long bytes = 0;
        for (String unit : shards.keySet()) {
            bytes += shards.get(unit).size() * dtype.getNumOfBytes();
            NDArray g = gradShards.get(unit);
            if (g != null) {
                bytes += g.size() * g.getDataType().getNumOfBytes();
                bytes += optimizer.stateBytes(unit);
            }
        }
        return bytes;
    }

    @Override
    public void prefetch(String unit) {
        if (!gathered.containsKey(unit)) {
            gathered.put(unit, startGather(unit));
        }
    }

    private Gathered startGather(String unit) {
        NDManager owner = manager.newSubManager();
        NDArray full = owner.zeros(new Shape(padded.get(unit)), dtype);
        return new Gathered(full, group.allGather(shard(unit), full), owner);
    }

    @Override
    public NDArray acquire(String unit, NDManager scope) {
        Gathered g = gathered.get(unit);
        if (g == null) {
            g = startGather(unit);
            gathered.put(unit, g);
        }
        g.pending().await();
        long n = layouts.get(unit).numel();
        return n == g.full().size() ? g.full() : g.full().get(new NDIndex("0:{}", n));
    }

    @Override
    public void release(String unit) {
        if (!reshardAfterForward) {
            return; // kept until the optimizer step (enable_full_shard: false)
        }
        Gathered g = gathered.remove(unit);
        if (g != null) {
            g.pending().await();
            g.owner().close();
        }
    }

    /**
     * Starts reduce-scattering this unit's gradient and then finishes the previous unit's, so one
     * reduction is always in flight behind the next unit's backward.
     */
    @Override
    public void accumulateGrad(String unit, NDArray grad) {
        if (!trainable(unit)) {
            return; // frozen: nothing to reduce
        }
        long n = layouts.get(unit).numel();
        long p = padded.get(unit);
        NDManager tmp = manager.newSubManager();
        try {
            NDArray full = tmp.zeros(new Shape(p), dtype);
            if (grad != null) {
                full.set(new NDIndex("0:{}", n), grad.toType(dtype, false));
            }
            NDArray mine = tmp.zeros(gradShards.get(unit).getShape(), dtype);
            ShardGroup.Pending pending = group.reduceScatterSum(full, mine);
            finishReduction();
            inFlight = new Reduction(unit, mine, pending, tmp);
        } catch (RuntimeException e) {
            tmp.close();
            throw e;
        }
    }

    private void finishReduction() {
        Reduction r = inFlight;
        if (r != null) {
            inFlight = null;
            try {
                r.pending().await();
                gradShards.get(r.unit()).addi(r.shard());
            } finally {
                r.owner().close();
            }
        }
    }

    private void releaseKept() {
        for (Gathered g : gathered.values()) {
            g.pending().await();
            g.owner().close();
        }
        gathered.clear();
    }

    @Override
    public double gradSquares() {
        finishReduction();
        releaseKept();
        if (!placement.trainable()) {
            return 0;
        }
        // After the reduction every replica holds the same shard gradient: count each shard once.
        return group.sumShards(GradClip.sumOfSquares(gradShards.values()));
    }

    @Override
    public void scaleGrads(double factor) {
        finishReduction();
        for (NDArray g : gradShards.values()) {
            g.muli(factor);
        }
    }

    @Override
    public void update(Optimizer optimizer, double lr) {
        finishReduction();
        releaseKept();
        for (Map.Entry<String, NDArray> e : gradShards.entrySet()) {
            String unit = e.getKey();
            optimizer.update(unit, shards.get(unit), e.getValue(), decayShards.get(unit), lr);
        }
        for (Map.Entry<String, NDArray> e : gradShards.entrySet()) {
            NDArray old = e.getValue();
            e.setValue(manager.zeros(old.getShape(), old.getDataType()));
            old.close();
        }
    }

    @Override
    public NDArray fullWeights(String unit, NDManager scope) {
        NDArray full = scope.zeros(new Shape(padded.get(unit)), dtype);
        group.allGather(shard(unit), full).await();
        return full.get(new NDIndex("0:{}", layouts.get(unit).numel()));
    }

    @Override
    public void joinFullWeights(String unit) {
        try (NDManager scope = manager.newSubManager()) {
            fullWeights(unit, scope);
        }
    }

    @Override
    public void loadFullWeights(String unit, NDArray flat) {
        long n = layouts.get(unit).numel();
        if (flat.size() != n) {
            throw new IllegalArgumentException("unit " + unit + " has " + n + " elements, got " + flat.size());
        }
        NDArray s = shard(unit);
        long start = group.rank() * s.size();
        long end = Math.min(n, start + s.size());
        NDArray values = manager.zeros(s.getShape(), dtype);
        if (end > start) {
            values.set(new NDIndex("0:{}", end - start),
                    flat.toType(dtype, false).reshape(-1).get(new NDIndex("{}:{}", start, end)));
        }
        s.set(new NDIndex(":"), values);
        values.close();
    }

    @Override
    public OwnedSlice owned(String unit) {
        long shardLen = shard(unit).size();
        long begin = Math.min(group.rank() * shardLen, layouts.get(unit).numel());
        long end = Math.min(begin + shardLen, layouts.get(unit).numel());
        return new OwnedSlice(begin, end, shardLen);
    }

    @Override
    public float[] ownedWeights(String unit) {
        OwnedSlice o = owned(unit);
        return HostCopy.floats(shard(unit).toType(DataType.FLOAT32, false),
                HostCopy.arrayLength("unit " + unit, o.length()));
    }

    @Override
    public void loadOwnedWeights(String unit, float[] values) {
        OwnedSlice o = owned(unit);
        if (values.length != o.length()) {
            throw new IllegalArgumentException("unit " + unit + ": this rank owns " + o.length()
                    + " elements, got " + values.length);
        }
        NDArray s = shard(unit);
        HostCopy.write(values, 0, values.length, s, 0);
        if (o.localLength() > values.length) {
            HostCopy.fill(s, values.length, o.localLength(), 0); // the padding of the last shard stays zero
        }
    }

    @Override
    public long heldBytes() {
        return ManagedBytes.of(manager);
    }

    /**
     * Waits for collectives still writing into this store's arrays before freeing them: the comm
     * thread writes through raw views of tensor memory, so freeing first would be a use-after-free.
     */
    @Override
    public void close() {
        if (inFlight != null) {
            awaitQuietly(inFlight.pending());
            inFlight.owner().close();
            inFlight = null;
        }
        for (Gathered g : gathered.values()) {
            awaitQuietly(g.pending());
            g.owner().close();
        }
        gathered.clear();
        manager.close();
    }

    private static void awaitQuietly(ShardGroup.Pending p) {
        try {
            p.await();
        } catch (RuntimeException e) {
            // The op failed or its peers are gone; its failure was or will be reported elsewhere.
        }
    }

}
