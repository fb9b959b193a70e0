package ai.omnispark.trainer.perf;

import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Model FLOPs of one training step (one forward and one backward) over a batch, read from the
 * model's HF config.json ({@code Model#hfConfig}) and the batch's rows. A multiply-add is 2 FLOPs;
 * the backward of a matmul is twice its forward (the input's and the weight's gradient), hence the
 * factor 6 = 2 × (1 forward + 2 backward). Only matmuls are counted (norms, activations, softmax,
 * RoPE, the loss and the optimizer are not), and only the work the model needs: these are model
 * FLOPs, not what a kernel executes (a masked attention kernel may compute pairs the mask drops; a
 * checkpointed block recomputes its forward; neither is counted).
 *
 * <p><b>Decoders</b> ({@code llama}, {@code qwen2}, {@code qwen3}, {@code qwen2_moe},
 * {@code qwen3_moe}), over T tokens, where T counts every position whose {@code doc_ids} is not -1
 * (padding is not counted; a document's last position, which has no label, is):
 * <pre>
 *   flops = 6 × N × T + 12 × layers × heads × head_dim × P
 *   N     = Σ_layers [ hidden × head_dim × (2 × heads + 2 × kv_heads)        q, k, v, o
 *                    + 3 × hidden × intermediate                             a dense SwiGLU layer, or
 *                    + hidden × E + top_k × 3 × hidden × moe_intermediate     a sparse layer (router, the
 *                      (+ 3 × hidden × shared_intermediate + hidden, qwen2_moe's shared expert and its gate)
 *                                                                             top-k experts a token passes)
 *         + hidden × vocab                                                    the LM head
 *   P     = Σ_rows Σ_documents n_d (n_d + 1) / 2                              causal (query, key) pairs
 * </pre>
 * The embedding lookup is no matmul and is not counted (a tied head is, once, as the head). 12 =
 * 2 FLOPs × 2 products (q·kᵀ and p·v) × 3 (forward + backward). A packed row's documents attend
 * only within themselves, so P sums each document's causal triangle, not the row's.
 *
 * <p><b>Wan</b> (diffusers {@code WanTransformer3DModel}; text-to-video, or image-to-video by
 * conditioning latents, which only widen C = in_channels) over rows of latent (C, F,
 * H, W) and L text tokens: S = F/pt × H/ph × W/pw patch tokens per row, D = heads × head_dim,
 * <pre>
 *   flops = 6 × rows × [ S × (C·pt·ph·pw × D + D × out·pt·ph·pw)                  patch embedding, proj_out
 *                      + L × (text_dim × D + D × D)                               text embedder
 *                      + (freq_dim × D + D × D + D × 6D)                          time embedding, per row
 *                      + layers × (S × (6 D² + 2 D × ffn) + L × 2 D²) ]           per block: self q,k,v,o, cross
 *                                                                                 q,o, FFN up/down; cross k,v
 *         + 12 × rows × layers × D × (S² + S × L)                                 self (full) and cross pairs
 * </pre>
 * Other families (and Wan with CLIP image tokens, {@code image_dim} set) have no FLOP model here; {@link #of} refuses them by name.
 */
public final class StepFlops {
    private static final Set<String> DENSE = Set.of("llama", "qwen2", "qwen3");
    private static final Set<String> MOE = Set.of("qwen2_moe", "qwen3_moe");
    private static final String WAN = "WanTransformer3DModel";

    private StepFlops() {}

    /**
     * @param hf the model's HF config.json
     * @param batch the rows of one step (token rows with doc ids, or latent rows)
     * @throws IllegalArgumentException "no FLOP model for family X" for a family not covered
     */
    public static double of(JsonNode hf, List<Sample> batch) {
        String family = family(hf);
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("the batch has no rows");
        }
        if (DENSE.contains(family) || MOE.contains(family)) {
            long tokens = 0;
            double pairs = 0;
            for (Sample s : batch) {
                if (s.layout() != SampleLayout.TOKENS || !s.has(Sample.DOC_IDS)) {
                    throw new IllegalArgumentException("a " + family + " FLOP count needs token rows with doc ids, got "
                            + s.layout() + " " + s.columns().keySet());
                }
                int[] docs = s.ints(Sample.DOC_IDS);
                tokens += realTokens(docs);
                pairs += causalPairs(docs);
            }
            return decoder(hf, family, tokens, pairs);
        }
        if (family.equals(WAN)) {
            return wan(hf, batch);
        }
        throw new IllegalArgumentException("no FLOP model for family " + family);
    }

    private static String family(JsonNode hf) {
        String type = hf.path("model_type").asText("");
        return type.isEmpty() ? hf.path("_class_name").asText("(unnamed)") : type;
    }

    private static long realTokens(int[] docIds) {
        long n = 0;
        for (int d : docIds) {
            n += d >= 0 ? 1 : 0;
        }
        return n;
    }

    /** Σ over the row's documents of n(n+1)/2; a document is a run of one doc id (-1 is padding). */
    static double causalPairs(int[] docIds) {
        double pairs = 0;
        int t = 0;
        while (t < docIds.length) {
            int end = t;
            while (end < docIds.length && docIds[end] == docIds[t]) {
                end++;
            }
            long n = end - t;
            if (docIds[t] >= 0) {
                pairs += n * (n + 1) / 2.0;
            }
            t = end;
        }
        return pairs;
    }

    private static double decoder(JsonNode hf, String family, long tokens, double pairs) {
        long hidden = required(hf, "hidden_size");
        int layers = required(hf, "num_hidden_layers");
        long heads = required(hf, "num_attention_heads");
        long kv = hf.has("num_key_value_heads") ? required(hf, "num_key_value_heads") : heads;
        long headDim = hf.has("head_dim") ? required(hf, "head_dim") : hidden / heads;
        long vocab = required(hf, "vocab_size");
        long intermediate = required(hf, "intermediate_size");
        int experts = MOE.contains(family) ? required(hf, "num_experts") : 0;
        Set<Integer> mlpOnly = new HashSet<>();
        hf.path("mlp_only_layers").forEach(n -> mlpOnly.add(n.asInt()));
        int sparseStep = experts > 0 ? required(hf, "decoder_sparse_step") : 1;
        double matmulParams = (double) hidden * vocab;
        for (int layer = 0; layer < layers; layer++) {
            matmulParams += (double) hidden * headDim * (2 * heads + 2 * kv);
            boolean sparse = experts > 0 && !mlpOnly.contains(layer) && (layer + 1) % sparseStep == 0;
            if (sparse) {
                long topK = required(hf, "num_experts_per_tok");
                long expertWidth = required(hf, "moe_intermediate_size");
                matmulParams += (double) hidden * experts + topK * 3.0 * hidden * expertWidth;
                if (family.equals("qwen2_moe")) {
                    matmulParams += 3.0 * hidden * required(hf, "shared_expert_intermediate_size") + hidden;
                }
            } else {
                matmulParams += 3.0 * hidden * intermediate;
            }
        }
        return 6 * matmulParams * tokens + 12.0 * layers * heads * headDim * pairs;
    }

    private static double wan(JsonNode hf, List<Sample> batch) {
        if (!hf.path("image_dim").isNull() && !hf.path("image_dim").isMissingNode()) {
            throw new IllegalArgumentException("no FLOP model for family " + WAN
                    + " image-to-video with CLIP image tokens (image_dim set)");
        }
        long d = (long) required(hf, "num_attention_heads") * required(hf, "attention_head_dim");
        long textDim = required(hf, "text_dim");
        long freqDim = required(hf, "freq_dim");
        long ffn = required(hf, "ffn_dim");
        int layers = required(hf, "num_layers");
        long in = required(hf, "in_channels");
        long out = required(hf, "out_channels");
        JsonNode patch = hf.path("patch_size");
        if (patch.size() != 3) {
            throw new IllegalArgumentException("the Wan config's patch_size is not [pt, ph, pw]: " + patch);
        }
        int pt = patch.get(0).asInt();
        int ph = patch.get(1).asInt();
        int pw = patch.get(2).asInt();
        double flops = 0;
        for (Sample s : batch) {
            if (s.layout() != SampleLayout.LATENTS) {
                throw new IllegalArgumentException("a Wan FLOP count needs latent rows, got " + s.layout());
            }
            int[] shape = s.ints(Sample.LATENT_SHAPE);
            int[] text = s.ints(Sample.TEXT_EMBEDS_SHAPE);
            double tokens = (double) (shape[1] / pt) * (shape[2] / ph) * (shape[3] / pw);
            double textTokens = text[0];
            double matmulMacs = tokens * (in * pt * ph * pw * d + d * out * pt * ph * pw)
                    + textTokens * (textDim * d + d * d)
                    + (freqDim * d + d * d + d * 6 * d)
                    + layers * (tokens * (6.0 * d * d + 2.0 * d * ffn) + textTokens * 2.0 * d * d);
            flops += 6 * matmulMacs + 12.0 * layers * d * (tokens * tokens + tokens * textTokens);
        }
        return flops;
    }

    private static int required(JsonNode hf, String field) {
        JsonNode v = hf.get(field);
        if (v == null || !v.canConvertToInt() || v.asInt() < 0) {
            throw new IllegalArgumentException("the model's config.json lacks a non-negative integer '" + field
                    + "', which the FLOP count reads");
        }
        return v.asInt();
    }
}
