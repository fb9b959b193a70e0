package ai.omnispark.models.decoder;

import ai.djl.ndarray.NDArray;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.SiluMul;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import java.util.List;

/**
 * The dense second half of a Llama/Qwen block: {@code r + down(silu(gate(n)) * up(n))} with
 * {@code n = rmsnorm(r)}, parameters under HF names {@code model.layers.i.mlp.*}. A family decides
 * how each linear is computed (adapters, plain).
 */
public final class SwiGluMlp {
    private SwiGluMlp() {}

    /** Appends block {@code i}'s gate_proj, up_proj and down_proj to {@code p}. */
    public static void params(DecoderShape c, int i, List<ParamSpec> p) {
        Init normal = Init.normal(c.initializerRange());
        long h = c.hiddenSize();
        p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.gate_proj.weight"), normal, c.intermediateSize(), h));
        p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.up_proj.weight"), normal, c.intermediateSize(), h));
        p.add(ParamSpec.of(DecoderNames.layer(i, "mlp.down_proj.weight"), normal, h, c.intermediateSize()));
    }

    /** Block {@code layer}'s MLP half with its residual, on {@code r} [rows, seqLen, hidden]. */
    public static NDArray forward(SegmentCall call, NDArray r, int layer, double rmsNormEps,
            SelfAttentionBlock.Projection linear, SiluMul act) {
        NDArray m = norm(call, r, layer, rmsNormEps);
        NDArray[] gateUp = gateUp(call, m, layer, linear);
        return down(call, r, product(gateUp[0], gateUp[1], act), layer, linear);
    }

    /** The MLP half's norm of the residual stream {@code r}. */
    public static NDArray norm(SegmentCall call, NDArray r, int layer, double rmsNormEps) {
        return Ops.rmsNorm(r, call.param(DecoderNames.layer(layer, "post_attention_layernorm.weight")), rmsNormEps);
    }

    /** gate_proj and up_proj of the normed {@code m}, before the activation. */
    public static NDArray[] gateUp(SegmentCall call, NDArray m, int layer, SelfAttentionBlock.Projection linear) {
        return new NDArray[] {linear.apply(m, DecoderNames.layer(layer, "mlp.gate_proj"), null),
            linear.apply(m, DecoderNames.layer(layer, "mlp.up_proj"), null)};
    }

    /** The activation product {@code silu(gate) * up}, one libtorch call ({@link SiluMul}). */
    public static NDArray product(NDArray gate, NDArray up, SiluMul act) {
        return act.apply(gate, up);
    }

    /** {@code r + down_proj(p)}. */
    public static NDArray down(SegmentCall call, NDArray r, NDArray p, int layer, SelfAttentionBlock.Projection linear) {
        return r.add(linear.apply(p, DecoderNames.layer(layer, "mlp.down_proj"), null));
    }
}
