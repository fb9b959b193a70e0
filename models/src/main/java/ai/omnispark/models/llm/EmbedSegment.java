package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/** Token ids (from the batch) to hidden states. */
final class EmbedSegment implements Segment {
    static final String UNIT = "embed";

    @Override
    public String name() {
        return "embed";
    }

    @Override
    public List<String> units() {
        return List.of(UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray ids = call.batch().get(DecoderBatch.INPUT_IDS);
        NDArray weight = call.param(HfNames.EMBED);
        return new NDList(JniUtils.embedding((PtNDArray) ids, (PtNDArray) weight, false));
    }
}
