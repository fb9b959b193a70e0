package ai.omnispark.models.llm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/** Tiny configs and packed batches shared by the model tests. */
final class TinyModels {
    private TinyModels() {}

    static DecoderConfig tiny(String family, boolean tied) {
        return tiny(family, tied, false, 0);
    }

    /** With {@code attentionBias} (Llama: q/k/v and o_proj biases) and attention dropout p. */
    static DecoderConfig tiny(String family, boolean tied, boolean attentionBias, double attentionDropout) {
        return DecoderConfig.builder().family(family).vocabSize(11).hiddenSize(8).intermediateSize(12)
                .numLayers(2).numHeads(2).numKvHeads(1).headDim(4).tieWordEmbeddings(tied)
                .attentionBias(attentionBias).attentionDropout(attentionDropout)
                .initializerRange(0.5).ropeTheta(100).bosTokenId(1).eosTokenId(2).build();
    }

    /** With attention dropout, every call draws the same masks (a fresh generator of one seed). */
    static Batch batch(NDManager scope, DecoderConfig config, DataType dtype, int seqLen, int[][] rows) {
        Batch batch = DecoderBatch.build(scope, config, dtype, rows[0].length / seqLen, seqLen,
                rows[0], rows[1], rows[2], rows[3]);
        DecoderBatch.addAttentionDropout(batch, scope, config, dtype, rows[0].length / seqLen, seqLen,
                new RankRandom(17, 0));
        return batch;
    }

    /** Mean token loss of the batch, forward only. */
    static double loss(NDManager parent, DecoderLM model, LocalParams params, DataType dtype, int seqLen,
            int[][] rows) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, seqLen, rows);
            SegmentEngine engine = new SegmentEngine(model.trainingSegments(), model.units(), Recompute.none());
            double sum = engine.forward(scope, batch, new NDList(), params).singletonOrThrow().getDouble();
            return sum / DecoderBatch.lossTokens(rows[1]);
        }
    }

    /** Forward and backward with the mean token loss; gradients accumulate in {@code params}. */
    static double lossAndGrad(NDManager parent, DecoderLM model, LocalParams params, DataType dtype, int seqLen,
            int[][] rows, Recompute recompute) {
        return lossAndGrad(parent, model, model.trainingSegments(), params, dtype, seqLen, rows, recompute);
    }

    /** As above, running {@code segments} (the model's, or some replaced) over the model's units. */
    static double lossAndGrad(NDManager parent, DecoderLM model, List<Segment> segments, LocalParams params,
            DataType dtype, int seqLen, int[][] rows, Recompute recompute) {
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = batch(scope, model.config(), dtype, seqLen, rows);
            SegmentEngine engine = new SegmentEngine(segments, model.units(), recompute);
            double tokens = DecoderBatch.lossTokens(rows[1]);
            NDList seeds = new NDList(scope.create(1.0 / tokens).toType(dtype, false));
            double sum = engine.forwardBackward(scope, batch, new NDList(), seeds, params)
                    .singletonOrThrow().toType(DataType.FLOAT64, false).getDouble();
            return sum / tokens;
        }
    }

    /** Logits [1, n, vocab] of one unpacked row {@code ids} (positions 0..n-1), recording nothing. */
    static float[] logits(NDManager parent, DecoderLM model, ai.omnispark.parallel.engine.UnitParams params, int[] ids) {
        int n = ids.length;
        int[] labels = new int[n];
        int[] pos = new int[n];
        int[] doc = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = DecoderBatch.IGNORE;
            pos[i] = i;
        }
        try (NDManager scope = parent.newSubManager()) {
            Batch batch = DecoderBatch.build(scope, model.config(), DataType.FLOAT32, 1, n, ids, labels, pos, doc);
            SegmentEngine engine = new SegmentEngine(model.evaluationSegments(), model.units(), Recompute.none());
            return engine.forward(scope, batch, new NDList(), params).singletonOrThrow().toFloatArray();
        }
    }
}
