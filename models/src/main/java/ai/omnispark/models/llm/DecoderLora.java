package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which linears of a decoder take a LoRA adapter ({@code model.lora_config}), and the linear the
 * block segments call: the base alone, or base plus adapter. Adapters of block i live in their own
 * trainable unit "layers.i.lora" beside the frozen "layers.i", so the base never takes a gradient
 * or optimizer state.
 */
final class DecoderLora {
    /** The linear kinds of a block, in the order the block computes them. */
    static final List<String> KINDS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    /** One adapted linear: its HF module name (without ".weight") and its input and output widths. */
    record Target(String module, long in, long out) {}

    private final LoraConfig config;
    private final Map<Integer, List<Target>> byLayer = new LinkedHashMap<>();
    private final java.util.Set<String> adapted = new java.util.HashSet<>();

    /** @param config null for a model without adapters */
    DecoderLora(DecoderConfig c, LoraConfig config) {
        this.config = config;
        if (config == null) {
            return;
        }
        for (String m : config.modules()) {
            boolean any = false;
            for (String kind : KINDS) {
                any |= LoraConfig.names(DecoderNames.layer(0, kind), m);
            }
            if (!any) {
                throw new IllegalArgumentException("model.lora_config.lora_modules names '" + m + "', which matches no "
                        + "linear of a " + c.family() + " block; its linears are q_proj, k_proj, v_proj, o_proj, "
                        + "gate_proj, up_proj and down_proj");
            }
        }
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long inter = c.intermediateSize();
        Map<String, long[]> dims = Map.of("self_attn.q_proj", new long[] {h, q}, "self_attn.k_proj", new long[] {h, kv},
                "self_attn.v_proj", new long[] {h, kv}, "self_attn.o_proj", new long[] {q, h},
                "mlp.gate_proj", new long[] {h, inter}, "mlp.up_proj", new long[] {h, inter},
                "mlp.down_proj", new long[] {inter, h});
        for (int i = 0; i < c.numLayers(); i++) {
            List<Target> targets = new ArrayList<>();
            for (String kind : KINDS) {
                String module = DecoderNames.layer(i, kind);
                if (config.matches(module)) {
                    long[] d = dims.get(kind);
                    targets.add(new Target(module, d[0], d[1]));
                    adapted.add(module);
                }
            }
            if (!targets.isEmpty()) {
                byLayer.put(i, List.copyOf(targets));
            }
        }
    }

    /** The adapters' settings; null without LoRA. */
    LoraConfig config() {
        return config;
    }

    boolean enabled() {
        return config != null;
    }

    /** The units block {@code layer}'s segments read: its own, and its adapters' when it has any. */
    List<String> units(int layer) {
        String base = DecoderNames.unit(layer);
        return byLayer.containsKey(layer) ? List.of(base, LoraAdapters.unitOf(base)) : List.of(base);
    }

    /** The parameters of block {@code layer}'s adapter unit; empty when it has none. */
    List<ParamSpec> specs(int layer) {
        List<ParamSpec> specs = new ArrayList<>();
        for (Target t : byLayer.getOrDefault(layer, List.of())) {
            specs.addAll(LoraAdapters.specs(config, t.module(), t.in(), t.out()));
        }
        return specs;
    }

    /** Trainable adapter parameters in the whole model. */
    long parameterCount() {
        long n = 0;
        for (List<Target> targets : byLayer.values()) {
            for (Target t : targets) {
                n += (long) config.rank() * (t.in() + t.out());
            }
        }
        return n;
    }

    int adaptedLinears() {
        return adapted.size();
    }

    /** The linear {@code module} of the call's block on {@code x}: the base, plus its adapter if it has one. */
    NDArray linear(SegmentCall call, NDArray x, String module, NDArray bias) {
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
     * A training step's adapter-dropout masks, one per adapted linear (as PEFT: q, k and v drop their
     * shared input independently), drawn layer by layer in the block's order after the attention
     * masks, so a resumed run draws the same ones.
     */
    void addDropout(Batch batch, NDManager scope, DataType dtype, int rows, int seqLen, RankRandom random) {
        if (config == null || config.dropout() == 0) {
            return;
        }
        for (List<Target> targets : byLayer.values()) {
            for (Target t : targets) {
                batch.put(LoraAdapters.dropoutMaskKey(t.module()), LoraAdapters.dropoutMask(scope,
                        new Shape(rows, seqLen, t.in()), config.dropout(), dtype, random));
            }
        }
    }
}
