package ai.omnispark.parallel.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with decoupled weight decay and bias correction, states in the parameters' dtype (fp32 in
 * training), updating flat tensors in place. Works the same on whole units and on FSDP shards.
 * {@link ParamGroup}s give matching units their own learning-rate scale and weight decay.
 */
public final class AdamW implements Optimizer {
    /** The state of a key: the first and second moment, as PyTorch names them. */
    public static final List<String> STATE_NAMES = List.of("exp_avg", "exp_avg_sq");

    private final Config config;
    private final List<ParamGroup> groups;
    private final NDManager manager;
    private final Map<String, NDArray[]> states = new LinkedHashMap<>();
    /** Each key's group, resolved at its first update (null: the default group). */
    private final Map<String, ParamGroup> groupOf = new HashMap<>();
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
        this(parent, config, List.of());
    }

    /**
     * @param groups tried in order for each key, the first match wins; unmatched keys use
     *     {@code config}'s weight decay and the unscaled learning rate
     */
    public AdamW(NDManager parent, Config config, List<ParamGroup> groups) {
        this.config = config;
        this.groups = List.copyOf(groups);
        this.manager = parent.newSubManager();
        manager.setName("adamw");
    }

    public Config config() {
        return config;
    }

    public List<ParamGroup> groups() {
        return groups;
    }

    /** The group that {@code key} trains in, or null for the default group. */
    public ParamGroup groupOf(String key) {
        return groupOf.computeIfAbsent(key, k -> {
            for (ParamGroup g : groups) {
                if (g.unitMatches().test(k)) {
                    return g;
                }
            }
            return null;
        });
    }

    @Override
    public long stepCount() {
        return step;
    }

    @Override
    public void beginStep() {
        step++;
    }

    @Override
    public void setStepCount(long count) {
        this.step = count;
    }

    @Override
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
        ParamGroup group = groupOf(key);
        if (group != null) {
            lr *= group.lrScale();
        }
        double weightDecay = group == null ? config.weightDecay : group.weightDecay();
        double b1 = config.beta1;
        double b2 = config.beta2;
        double bc1 = 1 - Math.pow(b1, step);
        double bc2 = 1 - Math.pow(b2, step);
        try (NDScope scope = new NDScope()) {
            m.muli(b1).addi(grad.mul(1 - b1));
            v.muli(b2).addi(grad.square().muli(1 - b2));
            if (weightDecay > 0) {
                NDArray decay = decayMask == null ? param.mul(lr * weightDecay)
                        : param.mul(decayMask).muli(lr * weightDecay);
                param.subi(decay);
            }
            NDArray denom = v.sqrt().divi(Math.sqrt(bc2)).addi(config.eps);
            param.subi(m.div(denom).muli(lr / bc1));
        }
    }

    @Override
    public List<String> stateNames() {
        return STATE_NAMES;
    }

    /** The (exp_avg, exp_avg_sq) state of {@code key}, or null before its first update. */
    @Override
    public NDArray[] state(String key) {
        return states.get(key);
    }

    /** Installs (exp_avg, exp_avg_sq) for {@code key} (resume); the arrays are copied. */
    @Override
    public void setState(String key, NDArray... tensors) {
        if (tensors.length != STATE_NAMES.size()) {
            throw new IllegalArgumentException("AdamW state of " + key + " is " + STATE_NAMES + ", got "
                    + tensors.length + " tensors");
        }
        NDArray expAvg = tensors[0];
        NDArray expAvgSq = tensors[1];
        NDArray[] old = states.put(key, new NDArray[] {expAvg.duplicate(), expAvgSq.duplicate()});
        NDArray[] now = states.get(key);
        now[0].attach(manager);
        now[1].attach(manager);
        if (old != null) {
            old[0].close();
            old[1].close();
        }
    }

    @Override
    public Map<String, NDArray[]> states() {
        return states;
    }

    @Override
    public long stateBytes(String key) {
        NDArray[] st = states.get(key);
        if (st == null) {
            return 0;
        }
        long bytes = 0;
        for (NDArray a : st) {
            bytes += a.size() * a.getDataType().getNumOfBytes();
        }
        return bytes;
    }

    @Override
    public void close() {
        manager.close();
    }
}
