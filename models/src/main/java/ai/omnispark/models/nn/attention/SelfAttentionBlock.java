package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.SegmentCall;

/**
 * The first half of a pre-norm decoder block, shared by the decoder families: RMSNorm,
 * grouped-query q/k/v projections (optional bias, optional per-head q/k RMSNorm), rotary
 * embeddings from the batch's tables, {@link Attention#attend} inside documents with the batch's
 * dropout mask, the output projection and the residual. Parameters use HF names under
 * {@code prefix} ({@code model.layers.i.}); a family decides how a projection is computed (the
 * dense decoder adds LoRA adapters there). Its three parts ({@link #project}, {@link #attend},
 * {@link #output}) are public so that Ulysses can run them as separate segments with all-to-alls
 * between them ({@code nn/ulysses/UlyssesAttention}).
 */
public final class SelfAttentionBlock {
    /**
     * @param qkvBias q/k/v projections have a bias
     * @param qkNorm per-head RMSNorm of q and k (Qwen3)
     * @param outputBias o_proj has a bias
     */
    public record Spec(int numHeads, int numKvHeads, int headDim, double rmsNormEps, boolean qkvBias, boolean qkNorm,
            boolean outputBias) {}

    /** A linear layer of the block: {@code x W^T + b} for HF module {@code module}, however the family computes it. */
    @FunctionalInterface
    public interface Projection {
        NDArray apply(NDArray x, String module, NDArray bias);
    }

    private SelfAttentionBlock() {}

    /** The block's output {@code x + o_proj(attention)} for layer {@code layer}, [rows, seqLen, hidden]. */
    public static NDArray forward(SegmentCall call, NDArray x, int layer, String prefix, Spec spec, Projection linear,
            Attention attention) {
        NDArray[] qkv = project(call, x, prefix, spec, linear);
        NDArray attended;
        if (KvCache.enabled(call.batch())) {
            // Incremental decoding: this step's tokens over the cached keys and values.
            attended = KvCache.attend(call.batch(), layer, qkv[0], qkv[1], qkv[2]);
        } else {
            attended = attend(call, layer, attention, qkv[0], qkv[1], qkv[2]);
        }
        return output(call, x, attended, prefix, spec, linear);
    }

    /**
     * q [rows, heads, seqLen, head_dim] and k, v [rows, kv_heads, seqLen, head_dim] of {@code x}:
     * the input norm, the projections, the q/k norms and the rotary embedding from the batch's
     * tables (which must cover the positions {@code x} holds).
     */
    public static NDArray[] project(SegmentCall call, NDArray x, String prefix, Spec spec, Projection linear) {
        return projectNormed(call, norm(call, x, prefix, spec), prefix, spec, linear);
    }

    /** The block's input norm of {@code x}: what {@link #projectNormed} projects. */
    public static NDArray norm(SegmentCall call, NDArray x, String prefix, Spec spec) {
        return Ops.rmsNorm(x, call.param(prefix + "input_layernorm.weight"), spec.rmsNormEps());
    }

    /** {@link #project} after the input norm: q, k, v of the normed {@code h}. */
    public static NDArray[] projectNormed(SegmentCall call, NDArray h, String prefix, Spec spec, Projection linear) {
        Shape shape = h.getShape();
        long b = shape.get(0);
        long t = shape.get(1);
        int hd = spec.headDim();
        double eps = spec.rmsNormEps();
        boolean qkvBias = spec.qkvBias();

        NDArray q = linear.apply(h, prefix + "self_attn.q_proj", bias(call, prefix, "q_proj", qkvBias))
                .reshape(b, t, spec.numHeads(), hd);
        NDArray k = linear.apply(h, prefix + "self_attn.k_proj", bias(call, prefix, "k_proj", qkvBias))
                .reshape(b, t, spec.numKvHeads(), hd);
        NDArray v = linear.apply(h, prefix + "self_attn.v_proj", bias(call, prefix, "v_proj", qkvBias))
                .reshape(b, t, spec.numKvHeads(), hd);
        if (spec.qkNorm()) {
            q = Ops.rmsNorm(q, call.param(prefix + "self_attn.q_norm.weight"), eps);
            k = Ops.rmsNorm(k, call.param(prefix + "self_attn.k_norm.weight"), eps);
        }
        q = q.transpose(0, 2, 1, 3);
        k = k.transpose(0, 2, 1, 3);
        v = v.transpose(0, 2, 1, 3);
        Batch batch = call.batch();
        NDArray cos = batch.get(TokenBatch.COS);
        NDArray sin = batch.get(TokenBatch.SIN);
        return new NDArray[] {Ops.rope(q, cos, sin), Ops.rope(k, cos, sin), v};
    }

    /**
     * {@link Attention#attend} of q, k, v [rows, heads, seqLen, head_dim] inside the documents of
     * the batch's doc ids, with layer {@code layer}'s dropout mask when the batch has one.
     */
    public static NDArray attend(SegmentCall call, int layer, Attention attention, NDArray q, NDArray k, NDArray v) {
        Batch batch = call.batch();
        String dropout = TokenBatch.attentionDropoutMask(layer);
        return attention.attend(new AttentionInputs(q, k, v,
                batch.has(TokenBatch.DOC_IDS) ? batch.get(TokenBatch.DOC_IDS) : null, true,
                batch.has(dropout) ? batch.get(dropout) : null));
    }

    /** {@code x + o_proj(attended)} for attended [rows, heads, seqLen, head_dim]. */
    public static NDArray output(SegmentCall call, NDArray x, NDArray attended, String prefix, Spec spec,
            Projection linear) {
        Shape shape = x.getShape();
        NDArray attn = attended.transpose(0, 2, 1, 3).reshape(shape.get(0), shape.get(1),
                (long) spec.numHeads() * spec.headDim());
        return x.add(linear.apply(attn, prefix + "self_attn.o_proj", bias(call, prefix, "o_proj", spec.outputBias())));
    }

    private static NDArray bias(SegmentCall call, String prefix, String proj, boolean present) {
        return present ? call.param(prefix + "self_attn." + proj + ".bias") : null;
    }
}
