package ai.omnispark.models.moe;

/**
 * HF parameter names of Qwen3-MoE / Qwen2-MoE in the per-expert layout, which are also this
 * family's parameter names, and the fused layout's tensor names that import reads.
 */
final class MoeNames {
    private MoeNames() {}

    static final String EMBED = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    static final String LM_HEAD = "lm_head.weight";

    static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** {@code model.layers.i.mlp.experts.j.<proj>.weight}, proj one of gate_proj, up_proj, down_proj. */
    static String expert(int layer, int expert, String proj) {
        return layer(layer, "mlp.experts." + expert + "." + proj + ".weight");
    }

    /** The fused layout's [E, 2 * moe_intermediate_size, H] tensor, gate rows first. */
    static String fusedGateUp(int layer) {
        return layer(layer, "mlp.experts.gate_up_proj");
    }

    /** The fused layout's [E, H, moe_intermediate_size] tensor. */
    static String fusedDown(int layer) {
        return layer(layer, "mlp.experts.down_proj");
    }

    /** The unit of block {@code layer}: attention, router, experts (and shared expert) together. */
    static String unit(int layer) {
        return "layers." + layer;
    }
}
