package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

/**
 * Which (query, key) pairs of a block may attend, computed from positions and document ids with
 * libtorch ops (so nothing on a recorded path lives in Java memory).
 */
final class BlockMask {
    private BlockMask() {}

    /**
     * Boolean [B, 1, q, k] (or [q, k] without doc ids) for queries [q0, q1) and keys [k0, k1);
     * null when every pair is allowed.
     */
    static NDArray allowed(NDManager manager, NDArray docIds, boolean causal, long q0, long q1, long k0, long k1) {
        NDArray mask = null;
        if (causal && k1 - 1 > q0) {
            NDArray qPos = manager.arange(q0, q1).expandDims(1);
            NDArray kPos = manager.arange(k0, k1).expandDims(0);
            mask = qPos.gte(kPos);
        }
        if (docIds != null) {
            NDArray qDoc = docIds.get(new NDIndex(":, {}:{}", q0, q1)).expandDims(2);
            NDArray kDoc = docIds.get(new NDIndex(":, {}:{}", k0, k1)).expandDims(1);
            NDArray same = qDoc.eq(kDoc).expandDims(1);
            mask = mask == null ? same : same.logicalAnd(mask);
        }
        return mask;
    }
}
