package ai.omnispark.models.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Which linears of a model take a LoRA adapter ({@code model.lora_config}), grouped by the base
 * unit that holds them, and the linear a segment calls: the base alone, or base plus adapter. A
 * family lists every linear it can adapt ({@link Candidate}); the config's {@code lora_modules}
 * pick among them. Adapters of base unit U live in their own trainable unit
 * {@link LoraAdapters#unitOf U.lora} beside the frozen U, so the base takes no gradient and no
 * optimizer state.
 */
public final class LoraTargets {
    /** A linear a family can adapt: the unit holding it, its name without ".weight", its widths. */
    public record Candidate(String unit, String module, long in, long out) {}

    /** An adapted linear: its module name (without ".weight") and its input and output widths. */
    public record Target(String module, long in, long out) {}

    private final LoraConfig config;
    private final Map<String, List<Target>> byUnit = new LinkedHashMap<>();
    private final Set<String> adapted = new LinkedHashSet<>();

    /**
     * @param config null for a model without adapters
     * @param candidates every linear the family can adapt, in the order its segments compute them
     * @param kinds the adaptable linears in words, for the error when a lora_modules entry matches none
     */
    public LoraTargets(LoraConfig config, List<Candidate> candidates, String kinds) {
        this.config = config;
        if (config == null) {
            return;
        }
        for (String m : config.modules()) {
            boolean any = false;
            for (Candidate c : candidates) {
                any |= LoraConfig.names(c.module(), m);
            }
            if (!any) {
                throw new IllegalArgumentException("model.lora_config.lora_modules names '" + m + "', which matches no "
                        + "linear of this model; its linears are " + kinds);
            }
        }
        Map<String, List<Target>> units = new LinkedHashMap<>();
        for (Candidate c : candidates) {
            if (config.matches(c.module())) {
                units.computeIfAbsent(c.unit(), u -> new ArrayList<>()).add(new Target(c.module(), c.in(), c.out()));
                adapted.add(c.module());
            }
        }
        units.forEach((unit, targets) -> byUnit.put(unit, List.copyOf(targets)));
    }

    /** The adapters' settings; null without LoRA. */
    public LoraConfig config() {
        return config;
    }

    public boolean enabled() {
        return config != null;
    }

    /** The units a segment of base unit {@code baseUnit} reads: its own, and its adapters' when it has any. */
    public List<String> units(String baseUnit) {
        return byUnit.containsKey(baseUnit) ? List.of(baseUnit, LoraAdapters.unitOf(baseUnit)) : List.of(baseUnit);
    }

    /** The parameters of base unit {@code baseUnit}'s adapter unit; empty when it has none. */
    public List<ParamSpec> specs(String baseUnit) {
        List<ParamSpec> specs = new ArrayList<>();
        for (Target t : byUnit.getOrDefault(baseUnit, List.of())) {
            specs.addAll(LoraAdapters.specs(config, t.module(), t.in(), t.out()));
        }
        return specs;
    }

    /** Trainable adapter parameters in the whole model. */
    public long parameterCount() {
        long n = 0;
        for (List<Target> targets : byUnit.values()) {
            for (Target t : targets) {
                n += (long) config.rank() * (t.in() + t.out());
            }
        }
        return n;
    }

    public int adaptedLinears() {
        return adapted.size();
    }

    /** Whether the linear {@code module} takes an adapter. */
    public boolean adapts(String module) {
        return adapted.contains(module);
    }

    /** The linear {@code module} of the call's unit on {@code x}: the base, plus its adapter if it has one. */
    public NDArray linear(SegmentCall call, NDArray x, String module, NDArray bias) {
        NDArray weight = call.param(module + ".weight");
        if (!adapted.contains(module)) {
            return Ops.linear(x, weight, bias);
        }
        String maskKey = LoraAdapters.dropoutMaskKey(module);
        NDArray mask = call.batch().has(maskKey) ? call.batch().get(maskKey) : null;
        return LoraAdapters.linear(x, weight, bias, call.param(LoraAdapters.loraA(module)),
                call.param(LoraAdapters.loraB(module)), config.scale(), mask);
    }

    /**
     * A training step's adapter-dropout masks, one per adapted linear (as PEFT: linears sharing an
     * input drop it independently), drawn unit by unit in the order the candidates were listed, so a
     * resumed run draws the same ones; none without dropout.
     *
     * @param inputShape the shape of an adapted linear's input x in this batch
     */
    public void addDropout(Batch batch, NDManager scope, DataType dtype, Function<Target, Shape> inputShape,
            RankRandom random) {
        if (config == null || config.dropout() == 0) {
            return;
        }
        for (List<Target> targets : byUnit.values()) {
            for (Target t : targets) {
                batch.put(LoraAdapters.dropoutMaskKey(t.module()), LoraAdapters.dropoutMask(scope, inputShape.apply(t),
                        config.dropout(), dtype, random));
            }
        }
    }
}
