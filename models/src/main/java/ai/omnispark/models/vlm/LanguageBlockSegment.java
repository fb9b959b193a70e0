package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.SwiGluMlp;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.models.nn.SiluMul;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * One half of Qwen2 decoder block i, segment "attn.i" or "mlp.i", both reading unit "layers.i":
 * the shared {@link SelfAttentionBlock} (whose rotary tables are the batch's M-RoPE tables, in the
 * decoder's usual keys) or the shared {@link SwiGluMlp}, their linears through the layer's LoRA
 * adapters when the model has them.
 */
final class LanguageBlockSegment implements Segment {
    private final Qwen2VlConfig config;
    private final int layer;
    private final boolean attentionHalf;
    private final Attention attention;
    private final LoraTargets lora;
    private final SiluMul act;

    private LanguageBlockSegment(Qwen2VlConfig config, int layer, boolean attentionHalf, Attention attention,
            LoraTargets lora, SiluMul act) {
        this.act = act;
        this.config = config;
        this.layer = layer;
        this.attentionHalf = attentionHalf;
        this.attention = attention;
        this.lora = lora;
    }

    static LanguageBlockSegment attention(Qwen2VlConfig config, int layer, Attention attention, LoraTargets lora) {
        return new LanguageBlockSegment(config, layer, true, attention, lora, null);
    }

    static LanguageBlockSegment mlp(Qwen2VlConfig config, int layer, LoraTargets lora, SiluMul act) {
        return new LanguageBlockSegment(config, layer, false, null, lora, act);
    }

    boolean attentionHalf() {
        return attentionHalf;
    }

    @Override
    public String name() {
        return (attentionHalf ? "attn." : "mlp.") + layer;
    }

    @Override
    public List<String> units() {
        return lora.units(DecoderNames.unit(layer));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        SelfAttentionBlock.Projection linear = (x, module, bias) -> lora.linear(call, x, module, bias);
        if (attentionHalf) {
            return new NDList(SelfAttentionBlock.forward(call, inputs.singletonOrThrow(), layer,
                    DecoderNames.layer(layer, ""), config.attentionSpec(), linear, attention));
        }
        return new NDList(SwiGluMlp.forward(call, inputs.singletonOrThrow(), layer, config.rmsNormEps(), linear, act));
    }
}
