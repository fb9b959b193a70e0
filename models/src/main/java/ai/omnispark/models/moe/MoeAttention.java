package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionInputs;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * The first half of a pre-norm MoE block: grouped-query self-attention with its residual (q/k
 * RMSNorm for Qwen3-MoE, q/k/v bias for Qwen2-MoE). The router statistics after the hidden state
 * pass through unchanged.
 */
final class MoeAttention implements Segment {
    private final MoeConfig config;
    private final int layer;
    private final Attention attention;

    MoeAttention(MoeConfig config, int layer, Attention attention) {
        this.config = config;
        this.layer = layer;
        this.attention = attention;
    }

    @Override
    public String name() {
        return "attn." + layer;
    }

    @Override
    public List<String> units() {
        return List.of(MoeNames.unit(layer));
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(MoeNames.layer(layer, suffix));
    }

    private NDArray projection(SegmentCall call, NDArray h, String proj, boolean bias) {
        return Ops.linear(h, p(call, "self_attn." + proj + ".weight"), bias ? p(call, "self_attn." + proj + ".bias") : null);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.get(0);
        Shape shape = x.getShape();
        long b = shape.get(0);
        long t = shape.get(1);
        int nh = config.numHeads();
        int nkv = config.numKvHeads();
        int hd = config.headDim();
        double eps = config.rmsNormEps();
        boolean bias = config.qkvBias();

        NDArray h = Ops.rmsNorm(x, p(call, "input_layernorm.weight"), eps);
        NDArray q = projection(call, h, "q_proj", bias).reshape(b, t, nh, hd);
        NDArray k = projection(call, h, "k_proj", bias).reshape(b, t, nkv, hd);
        NDArray v = projection(call, h, "v_proj", bias).reshape(b, t, nkv, hd);
        if (config.qkNorm()) {
            q = Ops.rmsNorm(q, p(call, "self_attn.q_norm.weight"), eps);
            k = Ops.rmsNorm(k, p(call, "self_attn.k_norm.weight"), eps);
        }
        q = q.transpose(0, 2, 1, 3);
        k = k.transpose(0, 2, 1, 3);
        v = v.transpose(0, 2, 1, 3);
        Batch batch = call.batch();
        NDArray cos = batch.get(TokenBatch.COS);
        NDArray sin = batch.get(TokenBatch.SIN);
        q = Ops.rope(q, cos, sin);
        k = Ops.rope(k, cos, sin);
        String dropout = TokenBatch.attentionDropoutMask(layer);
        NDArray attended = attention.attend(new AttentionInputs(q, k, v,
                batch.has(TokenBatch.DOC_IDS) ? batch.get(TokenBatch.DOC_IDS) : null, true,
                batch.has(dropout) ? batch.get(dropout) : null));
        NDArray attn = attended.transpose(0, 2, 1, 3).reshape(b, t, (long) nh * hd);
        NDArray o = projection(call, attn, "o_proj", config.outputBias());
        NDList out = new NDList(x.add(o));
        for (int i = 1; i < inputs.size(); i++) {
            out.add(inputs.get(i));
        }
        return out;
    }
}
