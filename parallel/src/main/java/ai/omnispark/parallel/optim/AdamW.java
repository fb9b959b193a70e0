package ai.omnispark.parallel.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay and bias correction, states in the parameters' dtype (fp32 in
 * training), updating flat tensors in place. Works the same on whole units and on FSDP shards.
 */
public final class AdamW implements AutoCloseable {
    private final Config config;
    private final NDManager manager;
    private final Map<String, NDArray[]> states = new LinkedHashMap<>();
    private long step;

    public record Config(double beta1, double beta2, double eps, double weightDecay) {
        public Config {
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("AdamW beta1 must be in [0, 1), got " + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("AdamW beta2 must be in [0, 1), got " + beta2);
            }
            if (!(eps > 0)) {
                throw new IllegalArgumentException("AdamW eps must be > 0, got " + eps);
            }
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
            }
        }
    }

    public AdamW(NDManager parent, Config config) {
        this.config = config;
        this.manager = parent.newSubManager();
        manager.setName("adamw");
    }

    public Config config() {
        return config;
    }

    /** Number of completed optimizer steps. */
    public long stepCount() {
        return step;
    }

    /** Starts the next optimizer step; bias correction uses the new count. */
    public void beginStep() {
        step++;
    }

    /** Restores the step count (resume). */
    public void setStepCount(long count) {
        this.step = count;
    }

    /**
     * Updates {@code param} in place from {@code grad}.
     *
     * @param key identifies the tensor's state across steps
     * @param decayMask 1 where weight decay applies, 0 elsewhere; null for decay everywhere
     */
    public void update(String key, NDArray param, NDArray grad, NDArray decayMask, double lr) {
        if (step == 0) {
            throw new IllegalStateException("call beginStep() before update()");
        }
        if (!param.getShape().equals(grad.getShape())) {
            throw new IllegalArgumentException("gradient of " + key + " has shape " + grad.getShape()
                    + " but the parameter has " + param.getShape());
        }
        NDArray[] mv = states.computeIfAbsent(key, k -> new NDArray[] {
            manager.zeros(param.getShape(), param.getDataType()),
            manager.zeros(param.getShape(), param.getDataType())});
        NDArray m = mv[0];
        NDArray v = mv[1];
        double b1 = config.beta1;
        double b2 = config.beta2;
        double bc1 = 1 - Math.pow(b1, step);
        double bc2 = 1 - Math.pow(b2, step);
        try (NDScope scope = new NDScope()) {
            m.muli(b1).addi(grad.mul(1 - b1));
            v.muli(b2).addi(grad.square().muli(1 - b2));
            if (config.weightDecay > 0) {
                NDArray decay = decayMask == null ? param.mul(lr * config.weightDecay)
                        : param.mul(decayMask).muli(lr * config.weightDecay);
                param.subi(decay);
            }
            NDArray denom = v.sqrt().divi(Math.sqrt(bc2)).addi(config.eps);
            param.subi(m.div(denom).muli(lr / bc1));
        }
    }

    /** The (exp_avg, exp_avg_sq) state of {@code key}, or null before its first update. */
    public NDArray[] state(String key) {
        return states.get(key);
    }

    /** Installs state for {@code key} (resume); the arrays are copied. */
    public void setState(String key, NDArray expAvg, NDArray expAvgSq) {
        NDArray[] old = states.put(key, new NDArray[] {expAvg.duplicate(), expAvgSq.duplicate()});
        NDArray[] now = states.get(key);
        now[0].attach(manager);
        now[1].attach(manager);
        if (old != null) {
            old[0].close();
            old[1].close();
        }
    }

    public Map<String, NDArray[]> states() {
        return states;
    }

    @Override
    public void close() {
        manager.close();
    }
}
