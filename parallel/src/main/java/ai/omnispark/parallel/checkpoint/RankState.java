package ai.omnispark.parallel.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A host-memory snapshot of what one rank owns: its slices of the master weights and of the AdamW
 * moments, keyed by unit ({@code layers.0}) and by unit and moment ({@code layers.0.exp_avg}).
 * Taking it is cheap and synchronous, so an async save can write it while training goes on.
 */
public record RankState(Map<String, Slice> model, Map<String, Slice> optimizer, long optimizerSteps) {
    static final String EXP_AVG = ".exp_avg";
    static final String EXP_AVG_SQ = ".exp_avg_sq";

    public static RankState capture(ParamStore params, AdamW optimizer) {
        Map<String, Slice> model = new LinkedHashMap<>();
        Map<String, Slice> moments = new LinkedHashMap<>();
        for (UnitLayout u : params.layouts()) {
            OwnedSlice o = params.owned(u.name());
            model.put(u.name(), new Slice(u.numel(), o.begin(), params.ownedWeights(u.name())));
            NDArray[] st = optimizer.state(u.name());
            if (st != null) {
                moments.put(u.name() + EXP_AVG, new Slice(u.numel(), o.begin(), owned(st[0], o)));
                moments.put(u.name() + EXP_AVG_SQ, new Slice(u.numel(), o.begin(), owned(st[1], o)));
            }
        }
        return new RankState(model, moments, optimizer.stepCount());
    }

    private static float[] owned(NDArray a, OwnedSlice o) {
        return HostCopy.floats(a.toType(DataType.FLOAT32, false), HostCopy.arrayLength("optimizer state", o.length()));
    }

    /**
     * Installs a snapshot whose slices match this rank's owned ranges (the reader cuts them to fit).
     * Everything is checked before anything is written, so a mismatch leaves the rank untouched.
     */
    public void applyTo(ParamStore params, AdamW adamw, NDManager manager) {
        for (UnitLayout u : params.layouts()) {
            OwnedSlice o = params.owned(u.name());
            check(model, u.name(), u, o);
            if (optimizerSteps > 0) {
                check(optimizer, u.name() + EXP_AVG, u, o);
                check(optimizer, u.name() + EXP_AVG_SQ, u, o);
            }
        }
        for (UnitLayout u : params.layouts()) {
            params.loadOwnedWeights(u.name(), model.get(u.name()).values());
            if (optimizerSteps > 0) {
                OwnedSlice o = params.owned(u.name());
                try (NDManager tmp = manager.newSubManager()) {
                    // Zeros beyond the owned elements: the padding of FSDP's last shard.
                    NDArray m = tmp.zeros(new Shape(o.localLength()), DataType.FLOAT32);
                    NDArray v = tmp.zeros(new Shape(o.localLength()), DataType.FLOAT32);
                    float[] mv = optimizer.get(u.name() + EXP_AVG).values();
                    float[] vv = optimizer.get(u.name() + EXP_AVG_SQ).values();
                    HostCopy.write(mv, 0, mv.length, m, 0);
                    HostCopy.write(vv, 0, vv.length, v, 0);
                    adamw.setState(u.name(), m, v);
                }
            }
        }
        adamw.setStepCount(optimizerSteps);
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
