package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/** The second half of a pre-norm transformer block: a SwiGLU MLP with its residual. */
final class MlpSegment implements Segment {
    private final DecoderConfig config;
    private final int layer;

    MlpSegment(DecoderConfig config, int layer) {
        this.config = config;
        this.layer = layer;
    }

    @Override
    public String name() {
        return "mlp." + layer;
    }

    @Override
    public List<String> units() {
        return List.of(AttentionSegment.unit(layer));
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(HfNames.layer(layer, suffix));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray r = inputs.singletonOrThrow();
        NDArray m = Ops.rmsNorm(r, p(call, "post_attention_layernorm.weight"), config.rmsNormEps());
        NDArray gate = Ops.silu(Ops.linear(m, p(call, "mlp.gate_proj.weight"), null));
        NDArray up = Ops.linear(m, p(call, "mlp.up_proj.weight"), null);
        NDArray down = Ops.linear(gate.mul(up), p(call, "mlp.down_proj.weight"), null);
        return new NDList(r.add(down));
    }
}
