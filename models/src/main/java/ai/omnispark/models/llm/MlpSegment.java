package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/** The second half of a pre-norm transformer block: a SwiGLU MLP with its residual. */
final class MlpSegment implements Segment {
    private final DecoderConfig config;
    private final int layer;
    private final DecoderLora lora;

    MlpSegment(DecoderConfig config, int layer, DecoderLora lora) {
        this.config = config;
        this.layer = layer;
        this.lora = lora;
    }

    @Override
    public String name() {
        return "mlp." + layer;
    }

    @Override
    public List<String> units() {
        return lora.units(layer);
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(DecoderNames.layer(layer, suffix));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray r = inputs.singletonOrThrow();
        NDArray m = Ops.rmsNorm(r, p(call, "post_attention_layernorm.weight"), config.rmsNormEps());
        NDArray gate = Ops.silu(lora.linear(call, m, DecoderNames.layer(layer, "mlp.gate_proj"), null));
        NDArray up = lora.linear(call, m, DecoderNames.layer(layer, "mlp.up_proj"), null);
        NDArray down = lora.linear(call, gate.mul(up), DecoderNames.layer(layer, "mlp.down_proj"), null);
        return new NDList(r.add(down));
    }
}
