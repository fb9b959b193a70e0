package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.omnispark.models.nn.Ops;
import java.util.ArrayList;
import java.util.List;

/**
 * Attention blocked over queries and keys with an online softmax, in plain DJL ops: the fallback
 * when SDPA is unavailable. Each block's [q, k] mask comes from positions and document ids
 * ({@link BlockMask}), so no dense [S, S] mask exists; key blocks wholly after a causal query block
 * are skipped. GQA heads are broadcast by the matmul, never copied to Hq heads. Autograd still
 * saves every block's probabilities for backward: it bounds the forward's working set, not the
 * graph's.
 */
final class ChunkedAttention {
    private ChunkedAttention() {}

    static NDArray attend(AttentionInputs in, int block) {
        if (block <= 0) {
            throw new IllegalArgumentException("attention block size must be > 0, got " + block);
        }
        long b = in.batch();
        long nkv = in.kvHeads();
        long group = in.queryHeads() / nkv;
        long t = in.length();
        long hd = in.headDim();
        NDManager manager = in.q().getManager();
        // [B, Hkv, group, S, D] queries against [B, Hkv, 1, S, D] keys/values: the matmul broadcasts.
        NDArray q = Ops.scale(in.q(), in.scale()).reshape(b, nkv, group, t, hd);
        NDArray k = in.k().expandDims(2);
        NDArray v = in.v().expandDims(2);
        NDArray docIds = in.docIds();
        NDArray one = null;
        NDArray penalty = null;
        List<NDArray> outputs = new ArrayList<>();
        for (long q0 = 0; q0 < t; q0 += block) {
            long q1 = Math.min(t, q0 + block);
            NDArray qb = q.get(new NDIndex(":, :, :, {}:{}", q0, q1));
            long keyEnd = in.causal() ? q1 : in.keyLength();
            NDArray m = null;
            NDArray l = null;
            NDArray acc = null;
            for (long k0 = 0; k0 < keyEnd; k0 += block) {
                long k1 = Math.min(keyEnd, k0 + block);
                NDArray kb = k.get(new NDIndex(":, :, :, {}:{}", k0, k1));
                NDArray vb = v.get(new NDIndex(":, :, :, {}:{}", k0, k1));
                NDArray s = qb.matMul(kb.transpose(0, 1, 2, 4, 3));
                NDArray allowed = BlockMask.allowed(manager, docIds, in.causal(), q0, q1, k0, k1);
                if (allowed != null) {
                    if (one == null) {
                        one = Ops.constant(s, 1);
                        penalty = Ops.constant(s, -EagerAttention.MASKED);
                    }
                    // An additive block mask (0 allowed, MASKED not) as the eager path adds, since
                    // DJL's where does not broadcast. [B, 1, q, k] -> [B, 1, 1, q, k] to broadcast
                    // over (Hkv, group); [q, k] broadcasts as is.
                    NDArray additive = allowed.toType(s.getDataType(), false).sub(one).mul(penalty);
                    s = s.add(allowed.getShape().dimension() == 4 ? additive.expandDims(1) : additive);
                }
                // The running max only keeps exp in range; the result does not depend on it, so it
                // is held out of the graph. A row fully masked so far has max MASKED and sums junk,
                // which the first allowed block scales by exp(MASKED - max) = 0: every query sees
                // at least itself, so every row meets an allowed key.
                NDArray blockMax = s.max(new int[] {-1}, true).stopGradient();
                NDArray newMax = m == null ? blockMax : NDArrays.maximum(m, blockMax);
                NDArray p = s.sub(newMax).exp();
                NDArray pv = p.matMul(vb);
                NDArray ps = p.sum(new int[] {-1}, true);
                if (m == null) {
                    l = ps;
                    acc = pv;
                } else {
                    NDArray correction = m.sub(newMax).exp();
                    l = l.mul(correction).add(ps);
                    acc = acc.mul(correction).add(pv);
                }
                m = newMax;
            }
            outputs.add(acc.div(l));
        }
        NDArray out = outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(new NDList(outputs), 3);
        return out.reshape(b, nkv * group, t, hd);
    }
}
