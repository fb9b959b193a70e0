package ai.omnispark.models.moe;

import ai.omnispark.models.decoder.DecoderConfigKeys;
import ai.omnispark.models.decoder.DecoderShape;
import java.util.List;
import java.util.Set;

/**
 * Shape of a mixture-of-experts decoder: HF {@code qwen3_moe} (q/k RMSNorm, optional attention
 * bias) or {@code qwen2_moe} (q/k/v bias when {@code qkv_bias}, a shared expert with a sigmoid gate).
 * Layer i has a sparse MLP when {@code i} is not in {@code mlp_only_layers},
 * {@code (i + 1) % decoder_sparse_step == 0} and {@code num_experts > 0}; otherwise the dense SwiGLU
 * MLP of width {@code intermediate_size}.
 */
record MoeConfig(
        String family,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        int maxPositionEmbeddings,
        double initializerRange,
        int bosTokenId,
        int eosTokenId,
        double attentionDropout,
        int numExperts,
        int numExpertsPerTok,
        int moeIntermediateSize,
        int sharedExpertIntermediateSize,
        int decoderSparseStep,
        List<Integer> mlpOnlyLayers,
        boolean normTopkProb,
        double routerAuxLossCoef,
        boolean outputRouterLogits) implements DecoderShape {

    static final String QWEN3_MOE = "qwen3_moe";
    static final String QWEN2_MOE = "qwen2_moe";

    MoeConfig {
        if (!family.equals(QWEN3_MOE) && !family.equals(QWEN2_MOE)) {
            throw new IllegalArgumentException("model_type must be qwen3_moe or qwen2_moe, got '" + family + "'");
        }
        DecoderConfigKeys.checkShape(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                rmsNormEps, ropeTheta, attentionDropout);
        if (family.equals(QWEN2_MOE) && (long) headDim * numHeads != hiddenSize) {
            throw new IllegalArgumentException("qwen2_moe has head_dim = hidden_size / num_attention_heads ("
                    + hiddenSize + " / " + numHeads + "), got head_dim " + headDim);
        }
        if (numExperts < 0) {
            throw new IllegalArgumentException("num_experts must be >= 0, got " + numExperts);
        }
        if (numExperts > 0) {
            DecoderConfigKeys.positive("moe_intermediate_size", moeIntermediateSize);
            if (numExpertsPerTok < 1 || numExpertsPerTok > numExperts) {
                throw new IllegalArgumentException("num_experts_per_tok must be in [1, num_experts = " + numExperts
                        + "], got " + numExpertsPerTok);
            }
        }
        if (family.equals(QWEN2_MOE)) {
            DecoderConfigKeys.positive("shared_expert_intermediate_size", sharedExpertIntermediateSize);
        } else if (sharedExpertIntermediateSize != 0) {
            throw new IllegalArgumentException("qwen3_moe has no shared expert; shared_expert_intermediate_size must be 0 "
                    + "or absent, got " + sharedExpertIntermediateSize);
        }
        DecoderConfigKeys.positive("decoder_sparse_step", decoderSparseStep);
        mlpOnlyLayers = List.copyOf(mlpOnlyLayers);
        for (int layer : mlpOnlyLayers) {
            if (layer < 0 || layer >= numLayers) {
                throw new IllegalArgumentException("mlp_only_layers holds " + layer + ", outside the "
                        + numLayers + " layers [0, " + numLayers + ")");
            }
        }
        if (!(routerAuxLossCoef >= 0) || Double.isInfinite(routerAuxLossCoef)) {
            throw new IllegalArgumentException("router_aux_loss_coef must be finite and >= 0, got " + routerAuxLossCoef);
        }
    }

    /** Whether layer {@code i} has the sparse (routed experts) MLP, as transformers decides it. */
    boolean sparse(int layer) {
        return numExperts > 0 && !mlpOnlyLayers.contains(layer) && (layer + 1) % decoderSparseStep == 0;
    }

    /** Number of sparse layers: the router logits the load-balancing loss concatenates. */
    int sparseLayers() {
        int n = 0;
        for (int i = 0; i < numLayers; i++) {
            n += sparse(i) ? 1 : 0;
        }
        return n;
    }

    boolean sharedExpert() {
        return family.equals(QWEN2_MOE);
    }

    /** Qwen2-MoE's q/k/v bias is {@code qkv_bias}, carried in {@link #attentionBias}; Qwen3-MoE's is attention_bias. */
    @Override
    public boolean qkvBias() {
        return attentionBias;
    }

    /** Qwen3-MoE's attention_bias also biases o_proj; Qwen2-MoE's o_proj never has one. */
    @Override
    public boolean outputBias() {
        return family.equals(QWEN3_MOE) && attentionBias;
    }

    @Override
    public boolean qkNorm() {
        return family.equals(QWEN3_MOE);
    }

    /** Whether the training loss carries the load-balancing term, as transformers adds it only with output_router_logits. */
    boolean auxLoss() {
        return outputRouterLogits && sparseLayers() > 0;
    }

    long parameterCount() {
        long h = hiddenSize;
        long attention = attentionParameterCount();
        long total = 0;
        for (int i = 0; i < numLayers; i++) {
            total += attention;
            if (sparse(i)) {
                total += (long) numExperts * h + (long) numExperts * 3 * h * moeIntermediateSize;
                if (sharedExpert()) {
                    total += 3 * h * sharedExpertIntermediateSize + h;
                }
            } else {
                total += 3 * h * intermediateSize;
            }
        }
        return embedAndHeadParameterCount() + total;
    }

    static final Set<String> MODEL_TYPES = Set.of(QWEN3_MOE, QWEN2_MOE);
}
