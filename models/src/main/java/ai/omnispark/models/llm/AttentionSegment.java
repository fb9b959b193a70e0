package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionInputs;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * The first half of a pre-norm transformer block: grouped-query self-attention with its residual.
 * A segment of its own so that a plan can put communication (an all-to-all) between attention and
 * MLP; it reads the block's unit, which {@link MlpSegment} reads next.
 */
final class AttentionSegment implements Segment {
    private final DecoderConfig config;
    private final int layer;
    private final Attention attention;
    private final DecoderLora lora;

    AttentionSegment(DecoderConfig config, int layer, Attention attention, DecoderLora lora) {
        this.config = config;
        this.layer = layer;
        this.attention = attention;
        this.lora = lora;
    }

    /** The unit of block {@code layer}'s parameters, read by its attention and its MLP segment. */
    static String unit(int layer) {
        return "layers." + layer;
    }

    @Override
    public String name() {
        return "attn." + layer;
    }

    @Override
    public List<String> units() {
        return lora.units(layer);
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(HfNames.layer(layer, suffix));
    }

    private NDArray bias(SegmentCall call, String proj, boolean present) {
        return present ? p(call, "self_attn." + proj + ".bias") : null;
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.singletonOrThrow();
        Shape shape = x.getShape();
        long b = shape.get(0);
        long t = shape.get(1);
        int nh = config.numHeads();
        int nkv = config.numKvHeads();
        int hd = config.headDim();
        double eps = config.rmsNormEps();
        boolean qkvBias = config.qkvBias();

        NDArray h = Ops.rmsNorm(x, p(call, "input_layernorm.weight"), eps);
        NDArray q = lora.linear(call, h, HfNames.layer(layer, "self_attn.q_proj"), bias(call, "q_proj", qkvBias))
                .reshape(b, t, nh, hd);
        NDArray k = lora.linear(call, h, HfNames.layer(layer, "self_attn.k_proj"), bias(call, "k_proj", qkvBias))
                .reshape(b, t, nkv, hd);
        NDArray v = lora.linear(call, h, HfNames.layer(layer, "self_attn.v_proj"), bias(call, "v_proj", qkvBias))
                .reshape(b, t, nkv, hd);
        if (config.qkNorm()) {
            q = Ops.rmsNorm(q, p(call, "self_attn.q_norm.weight"), eps);
            k = Ops.rmsNorm(k, p(call, "self_attn.k_norm.weight"), eps);
        }
        q = q.transpose(0, 2, 1, 3);
        k = k.transpose(0, 2, 1, 3);
        v = v.transpose(0, 2, 1, 3);
        NDArray cos = call.batch().get(DecoderBatch.COS);
        NDArray sin = call.batch().get(DecoderBatch.SIN);
        q = Ops.rope(q, cos, sin);
        k = Ops.rope(k, cos, sin);
        Batch batch = call.batch();
        String dropout = DecoderBatch.attentionDropoutMask(layer);
        NDArray attended = attention.attend(new AttentionInputs(q, k, v,
                batch.has(DecoderBatch.DOC_IDS) ? batch.get(DecoderBatch.DOC_IDS) : null, true,
                batch.has(dropout) ? batch.get(dropout) : null));
        NDArray attn = attended.transpose(0, 2, 1, 3).reshape(b, t, (long) nh * hd);
        NDArray o = lora.linear(call, attn, HfNames.layer(layer, "self_attn.o_proj"),
                config.outputBias() ? p(call, "self_attn.o_proj.bias") : null);
        return new NDList(x.add(o));
    }
}
