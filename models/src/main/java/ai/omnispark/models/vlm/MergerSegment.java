package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * The patch merger: LayerNorm of each patch, then every m^2 consecutive patches (one merge window,
 * since the rows come in (t, h/m, w/m, m, m) order) side by side through
 * {@code mlp.2(gelu(mlp.0(.)))} (exact-erf GELU) to one token of the language model's width.
 */
final class MergerSegment implements Segment {
    private final VisionConfig vision;

    MergerSegment(VisionConfig vision) {
        this.vision = vision;
    }

    @Override
    public String name() {
        return VisionNames.MERGER_UNIT;
    }

    @Override
    public List<String> units() {
        return List.of(VisionNames.MERGER_UNIT);
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(VisionNames.merger(suffix));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.singletonOrThrow();
        long n = x.getShape().get(0);
        if (n == 0) {
            return new NDList(call.manager().zeros(new Shape(0, vision.hiddenSize()), x.getDataType()));
        }
        if (n % vision.patchesPerToken() != 0) {
            throw new IllegalArgumentException(n + " patches do not fill whole " + vision.spatialMergeSize() + " x "
                    + vision.spatialMergeSize() + " merge windows");
        }
        NDArray normed = Ops.layerNorm(x, p(call, "ln_q.weight"), p(call, "ln_q.bias"), VisionConfig.LAYER_NORM_EPS);
        NDArray windows = normed.reshape(n / vision.patchesPerToken(), vision.mergedDim());
        NDArray hidden = Ops.gelu(Ops.linear(windows, p(call, "mlp.0.weight"), p(call, "mlp.0.bias")));
        return new NDList(Ops.linear(hidden, p(call, "mlp.2.weight"), p(call, "mlp.2.bias")));
    }
}
