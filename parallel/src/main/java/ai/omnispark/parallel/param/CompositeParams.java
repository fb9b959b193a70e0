package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.optim.GradClip;
import ai.omnispark.parallel.optim.Optimizer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One store per placement behind one {@link ParamStore}: calls about a unit go to its placement's
 * store; clipping and stepping span them all (one global norm, one optimizer step). Every rank
 * holds the same placements in the same order, so the stores' collectives line up across ranks.
 */
final class CompositeParams implements ParamStore {
    private final List<UnitLayout> layouts;
    private final List<PlacementStore> stores;
    private final Map<String, PlacementStore> byUnit = new HashMap<>();

    CompositeParams(List<UnitLayout> layouts, List<PlacementStore> stores) {
        this.layouts = List.copyOf(layouts);
        this.stores = List.copyOf(stores);
        for (PlacementStore s : stores) {
            for (UnitLayout u : s.layouts()) {
                byUnit.put(u.name(), s);
            }
        }
    }

    /** The member stores, one per placement, in the order of the first unit of each. */
    List<PlacementStore> stores() {
        return stores;
    }

    private PlacementStore of(String unit) {
        PlacementStore s = byUnit.get(unit);
        if (s == null) {
            throw new IllegalArgumentException("no unit named " + unit + "; units are " + UnitLayout.names(layouts));
        }
        return s;
    }

    @Override
    public List<UnitLayout> layouts() {
        return layouts;
    }

    @Override
    public boolean holds(String unit) {
        return of(unit).holds(unit);
    }

    @Override
    public boolean trainable(String unit) {
        return of(unit).placement().trainable();
    }

    @Override
    public NDArray acquire(String unit, NDManager scope) {
        return of(unit).acquire(unit, scope);
    }

    @Override
    public void release(String unit) {
        of(unit).release(unit);
    }

    @Override
    public void prefetch(String unit) {
        of(unit).prefetch(unit);
    }

    @Override
    public void accumulateGrad(String unit, NDArray grad) {
        of(unit).accumulateGrad(unit, grad);
    }

    @Override
    public double clipGradNorm(double maxNorm) {
        double squares = 0;
        for (PlacementStore s : stores) {
            squares += s.gradSquares();
        }
        double norm = Math.sqrt(squares);
        double scale = GradClip.scale(norm, maxNorm);
        if (scale != 1) {
            for (PlacementStore s : stores) {
                s.scaleGrads(scale);
            }
        }
        return norm;
    }

    @Override
    public void step(Optimizer optimizer, double lr) {
        optimizer.beginStep();
        for (PlacementStore s : stores) {
            s.update(optimizer, lr);
        }
    }

    @Override
    public NDArray fullWeights(String unit, NDManager scope) {
        return of(unit).fullWeights(unit, scope);
    }

    @Override
    public void joinFullWeights(String unit) {
        of(unit).joinFullWeights(unit);
    }

    @Override
    public void loadFullWeights(String unit, NDArray flat) {
        of(unit).loadFullWeights(unit, flat);
    }

    @Override
    public OwnedSlice owned(String unit) {
        return of(unit).owned(unit);
    }

    @Override
    public float[] ownedWeights(String unit) {
        return of(unit).ownedWeights(unit);
    }

    @Override
    public void loadOwnedWeights(String unit, float[] values) {
        of(unit).loadOwnedWeights(unit, values);
    }

    @Override
    public long stateBytes(Optimizer optimizer) {
        long bytes = 0;
        for (PlacementStore s : stores) {
            bytes += s.stateBytes(optimizer);
        }
        return bytes;
    }

    @Override
    public long heldBytes() {
        long bytes = 0;
        for (PlacementStore s : stores) {
            bytes += s.heldBytes();
        }
        return bytes;
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        for (PlacementStore s : stores) {
            try {
                s.close();
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
