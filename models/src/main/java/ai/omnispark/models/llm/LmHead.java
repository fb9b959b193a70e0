package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.LinearCrossEntropy;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Final norm and output projection; in training mode also the summed cross-entropy over the
 * positions whose label is not ignored (the caller divides by the global token count), computed
 * by {@link LinearCrossEntropy} in chunks of tokens so the [tokens x vocab] logits never exist whole.
 */
final class LmHead implements Segment {
    static final String UNIT = "head";

    private final DecoderConfig config;
    private final boolean loss;
    /** Tokens per loss chunk; 0 = by {@link LinearCrossEntropy#CHUNK_LOGIT_BYTES}. */
    private final int lossChunkTokens;

    LmHead(DecoderConfig config, boolean loss, int lossChunkTokens) {
        this.config = config;
        this.loss = loss;
        this.lossChunkTokens = lossChunkTokens;
    }

    @Override
    public String name() {
        return loss ? "head.loss" : "head.logits";
    }

    @Override
    public List<String> units() {
        return config.tieWordEmbeddings() ? List.of(UNIT, EmbedSegment.UNIT) : List.of(UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = Ops.rmsNorm(inputs.singletonOrThrow(), call.param(HfNames.FINAL_NORM), config.rmsNormEps());
        NDArray weight = call.param(config.tieWordEmbeddings() ? HfNames.EMBED : HfNames.LM_HEAD);
        if (!loss) {
            return new NDList(Ops.linear(x, weight, null));
        }
        int chunk = LinearCrossEntropy.chunkTokens(lossChunkTokens, config.vocabSize(), x.getDataType().getNumOfBytes());
        return new NDList(LinearCrossEntropy.sum(call.manager(), x.reshape(-1, config.hiddenSize()), weight,
                call.batch().get(DecoderBatch.LABELS), call.batch().get(DecoderBatch.LABEL_MASK), chunk));
    }
}
