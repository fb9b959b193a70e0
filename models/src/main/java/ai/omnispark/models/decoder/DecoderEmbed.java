package ai.omnispark.models.decoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/** Token ids (from the batch) to hidden states. */
public final class DecoderEmbed implements Segment {
    @Override
    public String name() {
        return "embed";
    }

    @Override
    public List<String> units() {
        return List.of(DecoderNames.EMBED_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray ids = call.batch().get(TokenBatch.INPUT_IDS);
        NDArray weight = call.param(DecoderNames.EMBED);
        return new NDList(JniUtils.embedding((PtNDArray) ids, (PtNDArray) weight, false));
    }
}
