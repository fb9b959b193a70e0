package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * The loss head as it was before chunking: the full [tokens x vocab] logits, log-softmax and
 * gather, differentiated by autograd. The reference the chunked head is compared with.
 */
final class MaterialisedLossHead implements Segment {
    private final DecoderConfig config;

    MaterialisedLossHead(DecoderConfig config) {
        this.config = config;
    }

    /** {@code model}'s training segments with this head in place of its chunked one. */
    static List<Segment> trainingSegments(DecoderLM model) {
        List<Segment> segments = new java.util.ArrayList<>(model.trainingSegments());
        segments.set(segments.size() - 1, new MaterialisedLossHead(model.config()));
        return segments;
    }

    @Override
    public String name() {
        return "head.loss";
    }

    @Override
    public List<String> units() {
        return config.tieWordEmbeddings() ? List.of(DecoderNames.HEAD_UNIT, DecoderNames.EMBED_UNIT) : List.of(DecoderNames.HEAD_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = Ops.rmsNorm(inputs.singletonOrThrow(), call.param(DecoderNames.FINAL_NORM), config.rmsNormEps());
        NDArray weight = call.param(config.tieWordEmbeddings() ? DecoderNames.EMBED : DecoderNames.LM_HEAD);
        NDArray flat = Ops.linear(x, weight, null).reshape(-1, config.vocabSize());
        NDArray picked = flat.logSoftmax(-1).gather(call.batch().get(DecoderBatch.LABELS).reshape(-1, 1), 1)
                .reshape(-1);
        return new NDList(picked.mul(call.batch().get(DecoderBatch.LABEL_MASK)).sum().neg());
    }
}
