package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Final norm and output projection; in training mode also the summed cross-entropy over the
 * positions whose label is not ignored (the caller divides by the global token count).
 */
final class LmHead implements Segment {
    static final String UNIT = "head";

    private final DecoderConfig config;
    private final boolean loss;

    LmHead(DecoderConfig config, boolean loss) {
        this.config = config;
        this.loss = loss;
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
        NDArray logits = Ops.linear(x, weight, null);
        if (!loss) {
            return new NDList(logits);
        }
        NDArray flat = logits.reshape(-1, config.vocabSize());
        NDArray logp = flat.logSoftmax(-1);
        NDArray picked = logp.gather(call.batch().get(DecoderBatch.LABELS).reshape(-1, 1), 1).reshape(-1);
        NDArray lossSum = picked.mul(call.batch().get(DecoderBatch.LABEL_MASK)).sum().neg();
        return new NDList(lossSum);
    }
}
