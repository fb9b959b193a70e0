package ai.omnispark.models.decoder;

import ai.omnispark.models.lora.LoraTargets;
import java.util.ArrayList;
import java.util.List;

/** The linears of a dense decoder block (attention and SwiGLU MLP), as the LoRA candidates of a decoder. */
public final class DecoderLinears {
    /** The linear kinds of a block, in the order the block computes them. */
    public static final List<String> KINDS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");
    /** The kinds in words, for the error naming a lora_modules entry that matches none. */
    public static final String DESCRIBED = "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj";

    private DecoderLinears() {}

    /** Every linear of {@code c}'s blocks, block by block in the order a block computes them, each in its unit. */
    public static List<LoraTargets.Candidate> loraCandidates(DecoderShape c) {
        long h = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long inter = c.intermediateSize();
        long[][] dims = {{h, q}, {h, kv}, {h, kv}, {q, h}, {h, inter}, {h, inter}, {inter, h}};
        List<LoraTargets.Candidate> all = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            for (int k = 0; k < KINDS.size(); k++) {
                all.add(new LoraTargets.Candidate(DecoderNames.unit(i), DecoderNames.layer(i, KINDS.get(k)),
                        dims[k][0], dims[k][1]));
            }
        }
        return all;
    }
}
