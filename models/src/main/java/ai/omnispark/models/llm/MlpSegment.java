package ai.omnispark.models.llm;

import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.SwiGluMlp;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.engine.SteppedSegment;
import ai.omnispark.models.decoder.SwiGluSteps;
import ai.omnispark.models.nn.SiluMul;
import java.util.List;

/** The second half of a pre-norm transformer block: the shared SwiGLU MLP with its residual, through the block's LoRA adapters. */
final class MlpSegment implements SteppedSegment {
    private final DecoderConfig config;
    private final int layer;
    private final DecoderLora lora;
    private final SiluMul act;

    MlpSegment(DecoderConfig config, int layer, DecoderLora lora, SiluMul act) {
        this.act = act;
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

    /** ROI recompute's candidates ({@link SwiGluSteps}). */
    @Override
    public List<Segment> steps() {
        return SwiGluSteps.of(name(), units(), layer, config.rmsNormEps(),
                call -> (x, module, bias) -> lora.linear(call, x, module, bias), act);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        return new NDList(SwiGluMlp.forward(call, inputs.singletonOrThrow(), layer, config.rmsNormEps(),
                (x, module, bias) -> lora.linear(call, x, module, bias), act));
    }
}
