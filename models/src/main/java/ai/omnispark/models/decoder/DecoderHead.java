package ai.omnispark.models.decoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.LinearCrossEntropy;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Final norm and output projection of the hidden state (its first input); in training mode also
 * the summed cross-entropy over the positions whose label is not ignored (the caller divides by the
 * global token count), computed by {@link LinearCrossEntropy} in chunks of tokens so the
 * [tokens x vocab] logits never exist whole. A family whose loss has more terms adds them in
 * {@link #lossOutputs}.
 */
public class DecoderHead implements Segment {
    private final DecoderShape config;
    private final boolean loss;
    /** Tokens per loss chunk; 0 = by {@link LinearCrossEntropy#CHUNK_LOGIT_BYTES}. */
    private final int lossChunkTokens;
    /** Whether the head's weight is frozen (LoRA): then its gradient is not computed. */
    private final boolean frozenWeight;

    public DecoderHead(DecoderShape config, boolean loss, int lossChunkTokens) {
        this(config, loss, lossChunkTokens, false);
    }

    public DecoderHead(DecoderShape config, boolean loss, int lossChunkTokens, boolean frozenWeight) {
        this.config = config;
        this.loss = loss;
        this.lossChunkTokens = lossChunkTokens;
        this.frozenWeight = frozenWeight;
    }

    @Override
    public final String name() {
        return loss ? "head.loss" : "head.logits";
    }

    @Override
    public final List<String> units() {
        return config.tieWordEmbeddings()
                ? List.of(DecoderNames.HEAD_UNIT, DecoderNames.EMBED_UNIT) : List.of(DecoderNames.HEAD_UNIT);
    }

    @Override
    public final NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = Ops.rmsNorm(inputs.get(0), call.param(DecoderNames.FINAL_NORM), config.rmsNormEps());
        NDArray weight = call.param(config.tieWordEmbeddings() ? DecoderNames.EMBED : DecoderNames.LM_HEAD);
        if (!loss) {
            return new NDList(Ops.linear(x, weight, null));
        }
        int chunk = LinearCrossEntropy.chunkTokens(lossChunkTokens, config.vocabSize(), x.getDataType().getNumOfBytes());
        NDArray ce = LinearCrossEntropy.sum(call.manager(), x.reshape(-1, config.hiddenSize()), weight,
                call.batch().get(TokenBatch.LABELS), call.batch().get(TokenBatch.LABEL_MASK), chunk, !frozenWeight);
        return lossOutputs(call, inputs, ce);
    }

    /** The training outputs given the summed cross-entropy {@code ce}: by default {@code ce} alone. */
    protected NDList lossOutputs(SegmentCall call, NDList inputs, NDArray ce) {
        return new NDList(ce);
    }
}
