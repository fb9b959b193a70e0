package ai.omnispark.models.llm;

import ai.omnispark.models.decoder.DecoderConfigKeys;
import ai.omnispark.models.decoder.DecoderShape;

/**
 * Shape of a decoder-only LM in the Llama family. {@code family} selects the HF variant:
 * "llama" (optional attention bias), "qwen2" (q/k/v bias), "qwen3" (q/k RMSNorm).
 */
record DecoderConfig(
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
        double attentionDropout) implements DecoderShape {

    public DecoderConfig {
        if (!family.equals("llama") && !family.equals("qwen2") && !family.equals("qwen3")) {
            throw new IllegalArgumentException("model_type must be llama, qwen2 or qwen3, got '" + family + "'");
        }
        DecoderConfigKeys.checkShape(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
                rmsNormEps, ropeTheta, attentionDropout);
    }

    /** Qwen2 always biases q/k/v; Llama and Qwen3 only when attention_bias is set. */
    @Override
    public boolean qkvBias() {
        return family.equals("qwen2") || attentionBias;
    }

    /** Llama's attention_bias also biases o_proj; Qwen2's o_proj never has one. */
    @Override
    public boolean outputBias() {
        return !family.equals("qwen2") && attentionBias;
    }

    @Override
    public boolean qkNorm() {
        return family.equals("qwen3");
    }

    public long parameterCount() {
        long perLayer = attentionParameterCount() + 3L * hiddenSize * intermediateSize;
        return embedAndHeadParameterCount() + numLayers * perLayer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder with the defaults of a small Qwen3-style model. */
    public static final class Builder {
        private String family = "qwen3";
        private int vocabSize = 259;
        private int hiddenSize = 128;
        private int intermediateSize = 384;
        private int numLayers = 4;
        private int numHeads = 4;
        private int numKvHeads = 2;
        private int headDim = -1;
        private double rmsNormEps = 1e-6;
        private double ropeTheta = 10000;
        private boolean tieWordEmbeddings = true;
        private boolean attentionBias;
        private int maxPositionEmbeddings = 4096;
        private double initializerRange = 0.02;
        private int bosTokenId = 256;
        private int eosTokenId = 257;
        private double attentionDropout;

        public Builder family(String v) { family = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder numLayers(int v) { numLayers = v; return this; }
        public Builder numHeads(int v) { numHeads = v; return this; }
        public Builder numKvHeads(int v) { numKvHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder ropeTheta(double v) { ropeTheta = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
        public Builder initializerRange(double v) { initializerRange = v; return this; }
        public Builder bosTokenId(int v) { bosTokenId = v; return this; }
        public Builder eosTokenId(int v) { eosTokenId = v; return this; }
        public Builder attentionDropout(double v) { attentionDropout = v; return this; }

        public DecoderConfig build() {
            if (numHeads <= 0) {
                throw new IllegalArgumentException("num_attention_heads must be > 0, got " + numHeads);
            }
            if (headDim < 0 && hiddenSize % numHeads != 0) {
                throw new IllegalArgumentException("hidden_size (" + hiddenSize
                        + ") must be a multiple of num_attention_heads (" + numHeads + ") unless head_dim is set");
            }
            int hd = headDim > 0 ? headDim : hiddenSize / numHeads;
            return new DecoderConfig(family, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                    numKvHeads, hd, rmsNormEps, ropeTheta, tieWordEmbeddings, attentionBias,
                    maxPositionEmbeddings, initializerRange, bosTokenId, eosTokenId, attentionDropout);
        }
    }
}
