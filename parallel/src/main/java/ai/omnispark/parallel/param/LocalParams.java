package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.optim.GradClip;
import ai.omnispark.parallel.optim.Optimizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameters held whole on one rank: each unit's master weights as one flat tensor, with a flat
 * gradient accumulator and decay mask beside it when the units train. Frozen units keep their
 * weights only. The single-rank case.
 */
public final class LocalParams implements PlacementStore {
    private final NDManager manager;
    private final Placement placement;
    private final Map<String, UnitLayout> layouts = new LinkedHashMap<>();
    private final Map<String, NDArray> weights = new LinkedHashMap<>();
    private final Map<String, NDArray> grads = new LinkedHashMap<>();
    private final Map<String, NDArray> decayMasks = new LinkedHashMap<>();

    /**
     * Creates every unit's weights from its deterministic initialisation, written into libtorch-owned
     * tensors a part at a time: no Java-backed copy of a whole unit is made or kept, so a unit of any
     * size that fits in memory can be built.
     */
    public LocalParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed) {
        this(parent, units, dtype, seed, true);
    }

    /**
     * @param trainable whether these units train; every unit's parameters must agree (use
     *     {@link ParamStores#build} for a model mixing trainable and frozen units)
     */
    public LocalParams(NDManager parent, List<UnitLayout> units, DataType dtype, long seed, boolean trainable) {
        this.placement = new Placement(List.of(), trainable);
        for (UnitLayout u : units) {
            Placement.requireTrainable(u, trainable);
        }
        this.manager = parent.newSubManager();
        manager.setName(trainable ? "local-params" : "local-params-frozen");
        for (UnitLayout u : units) {
            layouts.put(u.name(), u);
            Shape shape = new Shape(u.numel());
            NDArray w = manager.zeros(shape, dtype);
            u.initialValues(seed, HostCopy.CHUNK, (offset, values, length) -> HostCopy.write(values, 0, length, w, offset));
            weights.put(u.name(), w);
            if (!trainable) {
                continue; // no gradient, no decay mask: nothing but the weights
            }
            grads.put(u.name(), manager.zeros(shape, dtype));
            NDArray mask = manager.zeros(shape, dtype);
            for (long[] r : u.decayRanges()) {
                HostCopy.fill(mask, r[0], r[1], 1);
            }
            decayMasks.put(u.name(), mask);
        }
    }

    @Override
    public Placement placement() {
        return placement;
    }

    @Override
    public boolean trainable(String unit) {
        weights(unit);
        return placement.trainable();
    }

    @Override
    public List<UnitLayout> layouts() {
        return new ArrayList<>(layouts.values());
    }

    @Override
    public double gradSquares() {
        return GradClip.sumOfSquares(grads.values());
    }

    @Override
    public void scaleGrads(double factor) {
        for (NDArray g : grads.values()) {
            g.muli(factor);
        }
    }

    @Override
    public void update(Optimizer optimizer, double lr) {
        for (Map.Entry<String, NDArray> e : grads.entrySet()) {
            String unit = e.getKey();
            optimizer.update(unit, weights.get(unit), e.getValue(), decayMasks.get(unit), lr);
        }
        zeroGrads();
    }

    @Override
    public NDArray fullWeights(String unit, NDManager scope) {
        NDArray copy = weights(unit).duplicate();
        copy.attach(scope);
        return copy;
    }

    @Override
    public void joinFullWeights(String unit) {
        weights(unit); // whole on every rank: nothing to take part in
    }

    @Override
    public void loadFullWeights(String unit, NDArray flat) {
        NDArray w = weights(unit);
        if (flat.size() != w.size()) {
            throw new IllegalArgumentException("unit " + unit + " has " + w.size() + " elements, got " + flat.size());
        }
        w.set(new NDIndex(":"), flat.toType(w.getDataType(), false).reshape(w.getShape()));
    }

    @Override
    public long stateBytes(Optimizer optimizer) {
        long bytes = 0;
        for (String unit : weights.keySet()) {
            bytes += weights.get(unit).size() * weights.get(unit).getDataType().getNumOfBytes();
            NDArray g = grads.get(unit);
            if (g != null) {
                bytes += g.size() * g.getDataType().getNumOfBytes();
                bytes += optimizer.stateBytes(unit);
            }
        }
        return bytes;
    }

    @Override
    public OwnedSlice owned(String unit) {
        long n = weights(unit).size();
        return new OwnedSlice(0, n, n);
    }

    @Override
    public float[] ownedWeights(String unit) {
        NDArray w = weights(unit).toType(DataType.FLOAT32, false);
        return HostCopy.floats(w, HostCopy.arrayLength("unit " + unit, w.size()));
    }

    @Override
    public void loadOwnedWeights(String unit, float[] values) {
        NDArray w = weights(unit);
        if (values.length != w.size()) {
            throw new IllegalArgumentException("unit " + unit + " has " + w.size() + " elements, got " + values.length);
        }
        HostCopy.write(values, 0, values.length, w, 0);
    }


    /** The master weights of {@code unit}, flat; writes to it change the model. */
    public NDArray weights(String unit) {
        NDArray w = weights.get(unit);
        if (w == null) {
            throw new IllegalArgumentException("no unit named " + unit + "; units are " + weights.keySet());
        }
        return w;
    }

    /** The accumulated gradient of {@code unit}, or null if the unit is frozen. */
    public NDArray grad(String unit) {
        weights(unit);
        return grads.get(unit);
    }

    public NDManager manager() {
        return manager;
    }

    @Override
    public NDArray acquire(String unit, NDManager scope) {
        return weights(unit);
    }

    @Override
    public void accumulateGrad(String unit, NDArray grad) {
        NDArray g = grads.get(unit);
        if (g == null) {
            weights(unit); // an unknown unit fails; a frozen one takes no gradient
            return;
        }
        if (grad != null) {
            g.addi(grad);
        }
    }

    public void zeroGrads() {
        // Fresh zeros rather than g*0, which would keep a NaN from a bad step.
        for (Map.Entry<String, NDArray> e : grads.entrySet()) {
            NDArray old = e.getValue();
            e.setValue(manager.zeros(old.getShape(), old.getDataType()));
            old.close();
        }
    }

    /** Sets the value of one named parameter, e.g. when importing a checkpoint. */
    public void setParam(String unit, String param, NDArray value) {
        UnitLayout layout = layouts.get(unit);
        ParamSpec spec = layout.spec(param);
        if (!spec.shape().equals(value.getShape())) {
            throw new IllegalArgumentException("parameter " + param + " has shape " + spec.shape()
                    + " but the value has shape " + value.getShape());
        }
        long start = layout.offset(param);
        NDArray w = weights(unit);
        w.set(new NDIndex("{}:{}", start, start + spec.numel()),
                value.toType(w.getDataType(), false).flatten());
    }

    @Override
    public long heldBytes() {
        return ManagedBytes.of(manager);
    }

    @Override
    public void close() {
        manager.close();
    }
}
