package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Token ids to hidden states; when the load-balancing loss is on, also the empty router
 * statistics that the sparse layers add to (see {@link MoeMlp}): [hidden, probability sums [E],
 * top-k counts [E] int64].
 */
final class MoeEmbed implements Segment {
    static final String UNIT = "embed";

    private final MoeConfig config;

    MoeEmbed(MoeConfig config) {
        this.config = config;
    }

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
        NDArray ids = call.batch().get(TokenBatch.INPUT_IDS);
        NDArray weight = call.param(MoeNames.EMBED);
        NDArray hidden = JniUtils.embedding((PtNDArray) ids, (PtNDArray) weight, false);
        if (!config.auxLoss()) {
            return new NDList(hidden);
        }
        Shape experts = new Shape(config.numExperts());
        return new NDList(hidden, call.manager().zeros(experts, weight.getDataType()),
                call.manager().zeros(experts, DataType.INT64));
    }
}
