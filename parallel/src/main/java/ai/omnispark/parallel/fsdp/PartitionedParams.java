package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.ReduceOp;
import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.Placement;
import ai.omnispark.parallel.param.PlacementStore;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The units of a placement partitioned across a mesh dimension ({@link UnitLayout.Partition}; the
 * experts of a MoE layer across ep): this rank holds only the units of its own coordinate on that
 * dimension, FSDP-sharded over the ranks that share the coordinate ({@link FsdpParams} over
 * {@code shardGroup}: dp_shard × sp, summed over dp_replicate). VeOmni's "EP + FSDP".
 *
 * <p>What spans the partition: the squared gradient norm is also summed across the partition
 * dimension (each unit counted once in the job), and {@link #fullWeights} of a unit held elsewhere
 * is broadcast from its holder over the partition group, so rank 0 can export every unit. The
 * engine only ever acquires units this rank holds (the family's plan lists only those).
 */
public final class PartitionedParams implements PlacementStore {
    private final Placement placement;
    private final Map<String, UnitLayout> layouts = new LinkedHashMap<>();
    private final Map<String, Integer> holder = new LinkedHashMap<>();
    private final FsdpParams local;
    private final Communicator across;
    private final NDManager manager;
    private final DataType dtype;

    /**
     * @param units every unit of {@code placement}, held here or not, all partitioned across its dim
     * @param across the ranks that differ only in their coordinate on the partition dimension
     *     (ordered by it, so this rank's index in it is its coordinate)
     * @param shardGroup the ranks that share this rank's coordinate, over which the held units are sharded
     */
    public PartitionedParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed,
            Placement placement, Communicator across, ShardGroup shardGroup, boolean reshardAfterForward) {
        if (units.isEmpty()) {
            throw new IllegalArgumentException("a partitioned store needs at least one unit");
        }
        String dim = placement.partitionDim();
        boolean trainable = placement.trainable();
        List<UnitLayout> held = new ArrayList<>();
        for (UnitLayout u : units) {
            if (u.partition() == null || !u.partition().dim().equals(dim)) {
                throw new IllegalArgumentException("unit " + u.name() + " is not partitioned across " + dim
                        + " like unit " + units.get(0).name());
            }
            int h;
            try {
                h = u.partition().holder(across.size());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unit " + u.name() + ": " + e.getMessage(), e);
            }
            layouts.put(u.name(), u);
            holder.put(u.name(), h);
            if (h == across.rank()) {
                held.add(u);
            }
        }
        this.placement = placement;
        this.across = across;
        this.dtype = dtype;
        this.manager = parent.newSubManager();
        manager.setName("partitioned-params");
        try {
            this.local = held.isEmpty() ? null
                    : new FsdpParams(manager, held, dtype, seed, shardGroup, reshardAfterForward, trainable);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    @Override
    public Placement placement() {
        return placement;
    }

    @Override
    public List<UnitLayout> layouts() {
        return new ArrayList<>(layouts.values());
    }

    @Override
    public boolean holds(String unit) {
        return holderOf(unit) == across.rank();
    }

    private int holderOf(String unit) {
        Integer h = holder.get(unit);
        if (h == null) {
            throw new IllegalArgumentException("no unit named " + unit + "; units are " + layouts.keySet());
        }
        return h;
    }

    /** The local store, for a unit this rank holds; a clear error naming the holder otherwise. */
    private FsdpParams held(String unit) {
        int h = holderOf(unit);
        if (h != across.rank()) {
            throw new IllegalStateException("unit " + unit + " is held by coordinate " + h + " of mesh dim "
                    + placement.partitionDim() + ", not by this rank (coordinate " + across.rank() + ")");
        }
        return local;
    }

    @Override
    public boolean trainable(String unit) {
        holderOf(unit);
        return placement.trainable();
    }

    @Override
    public NDArray acquire(String unit, NDManager scope) {
        return held(unit).acquire(unit, scope);
    }

    @Override
    public void release(String unit) {
        held(unit).release(unit);
    }

    @Override
    public void prefetch(String unit) {
        held(unit).prefetch(unit);
    }

    @Override
    public void accumulateGrad(String unit, NDArray grad) {
        held(unit).accumulateGrad(unit, grad);
    }

    /** The held units' squares (summed over their shard group), then summed across the partition dimension. */
    @Override
    public double gradSquares() {
        double mine = local == null ? 0 : local.gradSquares();
        if (!placement.trainable() || across.size() == 1) {
            return mine;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = tmp.create(new float[] {(float) mine});
            across.allReduce(a, ReduceOp.SUM).await();
            return a.getFloat(0);
        }
    }

    @Override
    public void scaleGrads(double factor) {
        if (local != null) {
            local.scaleGrads(factor);
        }
    }

    @Override
    public void update(Optimizer optimizer, double lr) {
        if (local != null) {
            local.update(optimizer, lr);
        }
    }

    /**
     * A collective over every rank: the holders gather the unit over their shard group, then the
     * holder coordinate broadcasts it across the partition dimension.
     */
    @Override
    public NDArray fullWeights(String unit, NDManager scope) {
        int h = holderOf(unit);
        NDArray full = h == across.rank() ? local.fullWeights(unit, scope).duplicate()
                : scope.zeros(new Shape(layouts.get(unit).numel()), dtype);
        full.attach(scope);
        across.broadcast(full, h).await();
        return full;
    }

    @Override
    public void joinFullWeights(String unit) {
        try (NDManager scope = manager.newSubManager()) {
            fullWeights(unit, scope);
        }
    }

    /** Every rank is given the whole unit (import); only its holders keep it. */
    @Override
    public void loadFullWeights(String unit, NDArray flat) {
        if (holds(unit)) {
            local.loadFullWeights(unit, flat);
        }
    }

    @Override
    public OwnedSlice owned(String unit) {
        return held(unit).owned(unit);
    }

    @Override
    public float[] ownedWeights(String unit) {
        return held(unit).ownedWeights(unit);
    }

    @Override
    public void loadOwnedWeights(String unit, float[] values) {
        held(unit).loadOwnedWeights(unit, values);
    }

    @Override
    public long stateBytes(Optimizer optimizer) {
        return local == null ? 0 : local.stateBytes(optimizer);
    }

    @Override
    public long heldBytes() {
        return local == null ? 0 : local.heldBytes();
    }

    @Override
    public void close() {
        try {
            if (local != null) {
                local.close();
            }
        } finally {
            manager.close();
        }
    }
}
