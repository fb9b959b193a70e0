package ai.omnispark.models.decoder;

import ai.omnispark.models.nn.attention.SelfAttentionBlock;

/**
 * What every decoder-only family's config holds in common (the Llama family's and the
 * mixture-of-experts family's records implement it), so the pieces all of them share (embedding,
 * attention parameters, head, HF names, config.json keys) are written once against it.
 */
public interface DecoderShape {
    /** The HF model_type. */
    String family();

    int vocabSize();

    int hiddenSize();

    /** The dense SwiGLU MLP's width. */
    int intermediateSize();

    int numLayers();

    int numHeads();

    int numKvHeads();

    int headDim();

    double rmsNormEps();

    double ropeTheta();

    boolean tieWordEmbeddings();

    /** The config's attention bias flag as the family's config.json names it. */
    boolean attentionBias();

    int maxPositionEmbeddings();

    double initializerRange();

    /** -1 when the config has none. */
    int bosTokenId();

    /** -1 when the config has none. */
    int eosTokenId();

    double attentionDropout();

    /** Whether q_proj, k_proj and v_proj have a bias. */
    boolean qkvBias();

    /** Whether o_proj has a bias. */
    boolean outputBias();

    /** Whether q and k are RMS-normalised per head (Qwen3's q_norm / k_norm). */
    boolean qkNorm();

    /** The self-attention of every block. */
    default SelfAttentionBlock.Spec attentionSpec() {
        return new SelfAttentionBlock.Spec(numHeads(), numKvHeads(), headDim(), rmsNormEps(), qkvBias(), qkNorm(),
                outputBias());
    }

    /** Parameters of one block's attention half: input norm, q/k/v/o and their biases and norms, post-attention norm. */
    default long attentionParameterCount() {
        long h = hiddenSize();
        long q = (long) numHeads() * headDim();
        long kv = (long) numKvHeads() * headDim();
        long n = 2 * h + h * q + 2 * h * kv + q * h;
        if (qkvBias()) {
            n += q + 2 * kv;
        }
        if (outputBias()) {
            n += h;
        }
        if (qkNorm()) {
            n += 2L * headDim();
        }
        return n;
    }

    /** Parameters of the embedding and the head (final norm and, untied, lm_head). */
    default long embedAndHeadParameterCount() {
        long embed = (long) vocabSize() * hiddenSize();
        return embed + hiddenSize() + (tieWordEmbeddings() ? 0 : embed);
    }
}
