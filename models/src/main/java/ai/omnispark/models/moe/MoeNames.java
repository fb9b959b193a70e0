package ai.omnispark.models.moe;

import ai.omnispark.models.decoder.DecoderNames;

/**
 * HF parameter names of Qwen3-MoE / Qwen2-MoE's experts in the per-expert layout, which are also
 * this family's parameter names, and the fused layout's tensor names that import reads. The names
 * every decoder shares are {@link DecoderNames}.
 */
final class MoeNames {
    private MoeNames() {}

    /** {@code model.layers.i.mlp.experts.j.<proj>.weight}, proj one of gate_proj, up_proj, down_proj. */
    static String expert(int layer, int expert, String proj) {
        return DecoderNames.layer(layer, "mlp.experts." + expert + "." + proj + ".weight");
    }

    /**
     * The unit of expert j of layer i: each expert is a unit of its own, partitioned across the ep
     * dim, so a rank holds only its ep coordinate's experts and checkpoints reshard across ep sizes.
     */
    static String expertUnit(int layer, int expert) {
        return DecoderNames.unit(layer) + ".experts." + expert;
    }

    /** The fused layout's [E, 2 * moe_intermediate_size, H] tensor, gate rows first. */
    static String fusedGateUp(int layer) {
        return DecoderNames.layer(layer, "mlp.experts.gate_up_proj");
    }

    /** The fused layout's [E, H, moe_intermediate_size] tensor. */
    static String fusedDown(int layer) {
        return DecoderNames.layer(layer, "mlp.experts.down_proj");
    }
}
