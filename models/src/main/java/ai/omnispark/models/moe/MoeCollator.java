package ai.omnispark.models.moe;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * Packed token rows to a decoder batch ({@link TokenBatch}), plus what the load-balancing loss
 * reads: which positions are routed tokens (not padding, doc id >= 0) and the micro-batch's scale.
 *
 * <p>The load-balancing loss of a micro-batch is transformers' {@code load_balancing_loss_func}
 * over the router logits of all its sparse layers and routed tokens together, with padding masked
 * out as transformers' {@code attention_mask} does: with M = sparse layers * routed tokens,
 * {@code aux = E * sum_e (C_e / M) * (S_e / M)}, C_e the top-k slots expert e took, S_e its summed
 * probability. The head outputs {@code aux_scale * sum_e C_e S_e} with
 * {@code aux_scale = n * coef * E / M^2}, n the micro-batch's labelled tokens; the trainer seeds it
 * with 1 / (global labelled tokens) like the cross-entropy and divides its sum over micro-batches and
 * data ranks by the same count. So the step's {@code loss_aux} is coef times the labelled-token-
 * weighted mean of the micro-batches' aux: exactly transformers' aux of the batch when the global
 * batch is one micro-batch on one rank, and the mean of the per-micro-batch values (what gradient
 * accumulation and data parallelism with transformers compute, each rank and micro-batch on its own
 * tokens) when micro-batches carry equal labelled tokens. It is not one aux over the union of the
 * micro-batches: that product of two global sums would need every micro-batch's routing before the
 * first backward.
 */
final class MoeCollator implements Collator {
    /** [T, 1]: 1 at a routed token, 0 at padding. */
    static final String ROUTED_MASK = "moe_routed_mask";
    /** Scalar: n * coef * E / M^2 (0 when the micro-batch has no routed token). */
    static final String AUX_SCALE = "moe_aux_scale";

    private final MoeConfig config;

    MoeCollator(MoeConfig config) {
        this.config = config;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        int[][] columns = TokenBatch.columns(samples);
        int rows = samples.size();
        int seqLen = samples.get(0).length();
        Batch batch = TokenBatch.build(scope, config.vocabSize(), config.headDim(), config.ropeTheta(), dtype, rows,
                seqLen, columns[0], columns[1], columns[2], columns[3]);
        if (config.auxLoss()) {
            int[] docs = columns[3];
            float[] routed = new float[docs.length];
            long routedTokens = 0;
            for (int i = 0; i < docs.length; i++) {
                if (docs[i] >= 0) {
                    routed[i] = 1f;
                    routedTokens++;
                }
            }
            // Owned: the statistics' mul saves the mask for backward.
            batch.put(ROUTED_MASK, Ops.owned(scope.create(routed, new Shape(docs.length, 1)), dtype));
            batch.put(AUX_SCALE, Ops.owned(scope.create(auxScale(TokenBatch.lossTokens(columns[1]), routedTokens)), dtype));
        }
        if (random != null) {
            TokenBatch.addAttentionDropout(batch, scope, config.attentionDropout(), config.numHeads(), config.numLayers(),
                    dtype, rows, seqLen, random);
        }
        return batch;
    }

    /** n * coef * E / M^2 for n labelled and {@code routedTokens} routed tokens; see the class comment. */
    double auxScale(long labelledTokens, long routedTokens) {
        double m = (double) config.sparseLayers() * routedTokens;
        return m == 0 ? 0 : labelledTokens * config.routerAuxLossCoef() * config.numExperts() / (m * m);
    }
}
