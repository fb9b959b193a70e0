package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.mesh.MeshDims;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * What the cost model needs of a model beyond its units: sizes read from its HF config.json
 * (transformers' names, so any decoder-style family reads the same) and parameter counts from its
 * units. An expert unit is one split across ep ({@link UnitLayout.Partition}); a token passes
 * through {@code topK} of a layer's {@code numExperts}.
 *
 * @param denseParams parameters of every non-expert unit (embedding, attention, norms, dense MLPs, head)
 * @param expertParams parameters of every expert unit, all experts
 */
public record ModelShape(int layers, int hidden, int heads, int kvHeads, int headDim, int intermediate,
        int numExperts, int topK, int expertIntermediate, int sparseLayers, long denseParams, long expertParams) {

    public static ModelShape of(JsonNode hf, List<UnitLayout> units) {
        int hidden = required(hf, "hidden_size");
        int layers = required(hf, "num_hidden_layers");
        int heads = required(hf, "num_attention_heads");
        int kv = hf.path("num_key_value_heads").asInt(heads);
        int headDim = hf.path("head_dim").asInt(hidden / heads);
        int experts = hf.path("num_experts").asInt(0);
        long dense = 0;
        long expert = 0;
        for (UnitLayout u : units) {
            if (u.partition() != null && u.partition().dim().equals(MeshDims.EP)) {
                expert += u.numel();
            } else {
                dense += u.numel();
            }
        }
        int sparse = 0;
        if (experts > 0) {
            int step = Math.max(1, hf.path("decoder_sparse_step").asInt(1));
            java.util.Set<Integer> only = new java.util.HashSet<>();
            hf.path("mlp_only_layers").forEach(n -> only.add(n.asInt()));
            for (int l = 0; l < layers; l++) {
                if (!only.contains(l) && (l + 1) % step == 0) {
                    sparse++;
                }
            }
        }
        return new ModelShape(layers, hidden, heads, kv, headDim, hf.path("intermediate_size").asInt(0), experts,
                experts > 0 ? required(hf, "num_experts_per_tok") : 0, hf.path("moe_intermediate_size").asInt(0),
                sparse, dense, expert);
    }

    /** Parameters a token's forward multiplies by: the dense ones and topK / numExperts of the experts'. */
    public double activeParams() {
        return denseParams + (numExperts == 0 ? 0 : (double) expertParams * topK / numExperts);
    }

    /**
     * Training FLOPs per token at sequence length {@code seq}: 6 per active parameter (forward 2,
     * backward 4) plus causal attention's score and value products, 6 × layers × seq × heads × head_dim
     * (half of the full 12 for the causal mask). Embedding lookups count as matmuls here (a tied head
     * does that product), which slightly overstates an untied model.
     */
    public double trainFlopsPerToken(int seq) {
        return 6 * activeParams() + 6.0 * layers * seq * heads * headDim;
    }

    /**
     * Activation elements a token keeps from forward to backward in one layer with nothing
     * recomputed (an estimate for hardware we cannot measure on): the block inputs and their norms
     * (4 × hidden), q and the attention output (2 × heads × head_dim), k and v (2 × kv_heads ×
     * head_dim), and the MLP's gate, up and their product (3 × the intermediate a token passes
     * through: topK × moe_intermediate in a sparse layer).
     */
    public double activationElementsPerTokenLayer(boolean sparseLayer) {
        int mlp = sparseLayer ? topK * expertIntermediate : intermediate;
        return 4.0 * hidden + 2.0 * heads * headDim + 2.0 * kvHeads * headDim + 3.0 * mlp;
    }

    private static int required(JsonNode hf, String field) {
        JsonNode v = hf.get(field);
        if (v == null || !v.canConvertToInt()) {
            throw new IllegalArgumentException("the model's config.json lacks an integer '" + field
                    + "', which the planner reads");
        }
        return v.asInt();
    }
}
