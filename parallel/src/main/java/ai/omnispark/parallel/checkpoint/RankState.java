package ai.omnispark.parallel.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A host-memory snapshot of what one rank owns: its slices of the weights of every unit and of the
 * optimizer state of the trainable ones, keyed by unit ({@code layers.0}) and by unit and state
 * name ({@code layers.0.exp_avg}). Frozen units have weights only. Taking it is cheap and
 * synchronous, so an async save can write it while training goes on.
 *
 * @param optimizerStateNames the optimizer's {@link Optimizer#stateNames}: what each trainable unit
 *     has in {@code optimizer}
 */
public record RankState(Map<String, Slice> model, Map<String, Slice> optimizer, long optimizerSteps,
        List<String> optimizerStateNames) {
    public RankState {
        optimizerStateNames = List.copyOf(optimizerStateNames);
    }

    /** The checkpoint key of state {@code name} of {@code unit}. */
    static String stateKey(String unit, String name) {
        return unit + "." + name;
    }

    public static RankState capture(ParamStore params, Optimizer optimizer) {
        Map<String, Slice> model = new LinkedHashMap<>();
        Map<String, Slice> states = new LinkedHashMap<>();
        List<String> names = optimizer.stateNames();
        for (UnitLayout u : params.layouts()) {
            if (!params.holds(u.name())) {
                continue; // another coordinate of its partition dimension saves it
            }
            OwnedSlice o = params.owned(u.name());
            model.put(u.name(), new Slice(u.numel(), o.begin(), params.ownedWeights(u.name())));
            NDArray[] st = params.trainable(u.name()) ? optimizer.state(u.name()) : null;
            if (st != null) {
                for (int i = 0; i < names.size(); i++) {
                    states.put(stateKey(u.name(), names.get(i)), new Slice(u.numel(), o.begin(), owned(st[i], o)));
                }
            }
        }
        return new RankState(model, states, optimizer.stepCount(), names);
    }

    private static float[] owned(NDArray a, OwnedSlice o) {
        return HostCopy.floats(a.toType(DataType.FLOAT32, false), HostCopy.arrayLength("optimizer state", o.length()));
    }

    /**
     * Installs a snapshot whose slices match this rank's owned ranges (the reader cuts them to fit):
     * weights of every unit, optimizer state of the trainable ones. Everything is checked before
     * anything is written, so a mismatch leaves the rank untouched.
     */
    public void applyTo(ParamStore params, Optimizer opt, NDManager manager) {
        if (optimizerSteps > 0 && !opt.stateNames().equals(optimizerStateNames)) {
            throw new IllegalStateException("the checkpoint's optimizer state is " + optimizerStateNames
                    + " per unit, but this optimizer keeps " + opt.stateNames());
        }
        for (UnitLayout u : params.layouts()) {
            if (!params.holds(u.name())) {
                continue;
            }
            OwnedSlice o = params.owned(u.name());
            check(model, u.name(), u, o);
            if (optimizerSteps > 0 && params.trainable(u.name())) {
                for (String name : optimizerStateNames) {
                    check(optimizer, stateKey(u.name(), name), u, o);
                }
            }
        }
        for (UnitLayout u : params.layouts()) {
            if (!params.holds(u.name())) {
                continue;
            }
            params.loadOwnedWeights(u.name(), model.get(u.name()).values());
            if (optimizerSteps > 0 && params.trainable(u.name())) {
                OwnedSlice o = params.owned(u.name());
                try (NDManager tmp = manager.newSubManager()) {
                    NDArray[] tensors = new NDArray[optimizerStateNames.size()];
                    for (int i = 0; i < tensors.length; i++) {
                        // Zeros beyond the owned elements: the padding of FSDP's last shard.
                        tensors[i] = tmp.zeros(new Shape(o.localLength()), DataType.FLOAT32);
                        float[] values = optimizer.get(stateKey(u.name(), optimizerStateNames.get(i))).values();
                        HostCopy.write(values, 0, values.length, tensors[i], 0);
                    }
                    opt.setState(u.name(), tensors);
                }
            }
        }
        opt.setStepCount(optimizerSteps);
    }

    private static void check(Map<String, Slice> slices, String key, UnitLayout u, OwnedSlice o) {
        Slice s = slices.get(key);
        if (s == null) {
            throw new IllegalStateException("the checkpoint has no state for " + key);
        }
        if (s.total() != u.numel() || s.begin() != o.begin() || s.end() != o.end()) {
            throw new IllegalStateException("the checkpoint's " + key + " covers [" + s.begin() + ", " + s.end()
                    + ") of " + s.total() + " elements, this rank needs [" + o.begin() + ", " + o.end() + ") of "
                    + u.numel());
        }
    }
}
