package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.omnispark.models.nn.Ops;

/**
 * The reference path: expanded GQA heads, materialised [B, Hq, S, S] scores plus a dense additive
 * mask, softmax, the optional host-drawn dropout mask, and two batched matmuls. The only path that
 * applies a dropout mask.
 */
final class EagerAttention {
    /** Added to the scores of masked pairs; exp of it underflows to exactly 0 in fp32 and fp64. */
    static final double MASKED = -1e9;

    private EagerAttention() {}

    static NDArray attend(AttentionInputs in) {
        NDArray q = in.q();
        NDArray k = in.k();
        NDArray v = in.v();
        long b = in.batch();
        long nh = in.queryHeads();
        long nkv = in.kvHeads();
        long t = in.length();
        long tk = in.keyLength();
        long hd = in.headDim();
        if (nkv != nh) {
            long group = nh / nkv;
            k = k.expandDims(2).broadcast(b, nkv, group, tk, hd).reshape(b, nh, tk, hd);
            v = v.expandDims(2).broadcast(b, nkv, group, tk, hd).reshape(b, nh, tk, hd);
        }
        NDArray scores = Ops.scale(q.matMul(k.transpose(0, 1, 3, 2)), in.scale());
        NDArray allowed = BlockMask.allowed(q.getManager(), in.docIds(), in.causal(), 0, t, 0, t);
        if (allowed != null) {
            NDArray additive = allowed.toType(scores.getDataType(), false)
                    .sub(Ops.constant(scores, 1)).mul(Ops.constant(scores, -MASKED));
            scores = scores.add(additive);
        }
        NDArray probs = scores.softmax(-1);
        if (in.dropoutMask() != null) {
            probs = probs.mul(in.dropoutMask());
        }
        return probs.matMul(v);
    }
}
