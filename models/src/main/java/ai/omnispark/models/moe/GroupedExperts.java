package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.models.nn.Ops;
import java.util.function.IntFunction;

/**
 * The routed experts of one sparse layer, computed grouped: the (token, slot) pairs are sorted by
 * expert on the host (a counting sort of the routing, no tensor work), the tokens gathered in that
 * order with one gather, each expert runs once over its contiguous run of rows, and one more gather
 * puts the outputs back in (token, slot) order, where they are weighted and summed over the k slots.
 * Dropless: every token reaches each of its k experts. The index tensors are copied into
 * libtorch-owned memory, since the gathers save them for backward (docs/architecture.md).
 */
final class GroupedExperts {
    private GroupedExperts() {}

    /** One expert's SwiGLU weights: gate_proj [I, H], up_proj [I, H], down_proj [H, I]. */
    record Expert(NDArray gate, NDArray up, NDArray down) {}

    /**
     * @param hidden [T, H]
     * @param expert expert j's weights
     * @return sum over slots of weight * expert(hidden), [T, H]
     */
    static NDArray apply(NDArray hidden, Router.Routing routing, int numExperts, IntFunction<Expert> expert) {
        int k = routing.topK();
        long[] chosen = routing.experts();
        int slots = chosen.length;
        int[] count = new int[numExperts];
        for (long e : chosen) {
            count[(int) e]++;
        }
        int[] start = new int[numExperts + 1];
        for (int e = 0; e < numExperts; e++) {
            start[e + 1] = start[e] + count[e];
        }
        int[] next = start.clone();
        long[] tokenOfRow = new long[slots];
        long[] rowOfSlot = new long[slots];
        for (int s = 0; s < slots; s++) {
            int row = next[(int) chosen[s]]++;
            tokenOfRow[row] = s / k;
            rowOfSlot[s] = row;
        }
        NDManager manager = hidden.getManager();
        NDArray gathered = gather(hidden, Ops.owned(manager.create(tokenOfRow), DataType.INT64));
        NDList outputs = new NDList();
        for (int e = 0; e < numExperts; e++) {
            if (count[e] == 0) {
                continue;
            }
            NDArray rows = gathered.get(new NDIndex("{}:{}", start[e], start[e + 1]));
            Expert w = expert.apply(e);
            NDArray act = Ops.silu(Ops.linear(rows, w.gate(), null)).mul(Ops.linear(rows, w.up(), null));
            outputs.add(Ops.linear(act, w.down(), null));
        }
        NDArray byExpert = outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
        NDArray bySlot = gather(byExpert, Ops.owned(manager.create(rowOfSlot), DataType.INT64));
        long h = hidden.getShape().get(1);
        return bySlot.reshape(routing.tokens(), k, h).mul(routing.weights().expandDims(2)).sum(new int[] {1});
    }

    /** Rows {@code index} of {@code table} ([N, H]), differentiable in {@code table}. */
    private static NDArray gather(NDArray table, NDArray index) {
        return JniUtils.embedding((PtNDArray) index, (PtNDArray) table, false);
    }
}
