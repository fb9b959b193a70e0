package ai.omnispark.models.llm;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;

/** {@link TokenBatch} for a {@link DecoderConfig}: the decoder's batch keys and builders. */
final class DecoderBatch {
    public static final int IGNORE = TokenBatch.IGNORE;
    static final String INPUT_IDS = TokenBatch.INPUT_IDS;
    static final String LABELS = TokenBatch.LABELS;
    static final String LABEL_MASK = TokenBatch.LABEL_MASK;
    static final String DOC_IDS = TokenBatch.DOC_IDS;
    static final String COS = TokenBatch.COS;
    static final String SIN = TokenBatch.SIN;

    private DecoderBatch() {}

    /** See {@link TokenBatch#build}. */
    public static Batch build(NDManager scope, DecoderConfig config, DataType dtype, int rows, int seqLen,
            int[] inputIds, int[] labels, int[] positionIds, int[] docIds) {
        return TokenBatch.build(scope, config.vocabSize(), config.headDim(), config.ropeTheta(), dtype, rows, seqLen,
                inputIds, labels, positionIds, docIds);
    }

    static String attentionDropoutMask(int layer) {
        return TokenBatch.attentionDropoutMask(layer);
    }

    /** See {@link TokenBatch#addAttentionDropout}. */
    public static void addAttentionDropout(Batch batch, NDManager scope, DecoderConfig config, DataType dtype,
            int rows, int seqLen, RankRandom random) {
        TokenBatch.addAttentionDropout(batch, scope, config.attentionDropout(), config.numHeads(), config.numLayers(),
                dtype, rows, seqLen, random);
    }

    public static long lossTokens(int[] labels) {
        return TokenBatch.lossTokens(labels);
    }
}
