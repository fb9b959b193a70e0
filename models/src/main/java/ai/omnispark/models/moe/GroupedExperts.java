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
 *
 * <p>Expert parallelism ({@link ExpertParallelMlp}) uses the same pieces with an all-to-all between
 * the sort and the experts: {@link #sortByExpert}, {@link #runSorted}, {@link #combine}.
 */
final class GroupedExperts {
    private GroupedExperts() {}

    /** One expert's SwiGLU weights: gate_proj [I, H], up_proj [I, H], down_proj [H, I]. */
    record Expert(NDArray gate, NDArray up, NDArray down) {}

    /**
     * The (token, slot) pairs sorted by expert, stable in token order.
     *
     * @param tokenOfRow the token of each sorted row
     * @param rowOfSlot the sorted row of slot s ({@code t * k + j})
     * @param count rows per expert
     */
    record Sorted(long[] tokenOfRow, long[] rowOfSlot, int[] count) {}

    /** A counting sort of the chosen experts (row-major [T * k]). */
    static Sorted sortByExpert(long[] chosen, int topK, int numExperts) {
        int slots = chosen.length;
        int[] count = new int[numExperts];
        for (long e : chosen) {
            count[(int) e]++;
        }
        int[] next = new int[numExperts];
        for (int e = 1; e < numExperts; e++) {
            next[e] = next[e - 1] + count[e - 1];
        }
        long[] tokenOfRow = new long[slots];
        long[] rowOfSlot = new long[slots];
        for (int s = 0; s < slots; s++) {
            int row = next[(int) chosen[s]]++;
            tokenOfRow[row] = s / topK;
            rowOfSlot[s] = row;
        }
        return new Sorted(tokenOfRow, rowOfSlot, count);
    }

    /**
     * @param hidden [T, H]
     * @param expert expert j's weights
     * @return sum over slots of weight * expert(hidden), [T, H]
     */
    static NDArray apply(NDArray hidden, Router.Routing routing, int numExperts, IntFunction<Expert> expert) {
        Sorted sorted = sortByExpert(routing.experts(), routing.topK(), numExperts);
        NDManager manager = hidden.getManager();
        NDArray gathered = gather(hidden, index(manager, sorted.tokenOfRow()));
        NDArray byExpert = runSorted(gathered, sorted.count(), expert);
        return combine(byExpert, index(manager, sorted.rowOfSlot()), routing.weights());
    }

    /**
     * Each expert once over its contiguous run of {@code rows} (sorted by expert, {@code count[e]}
     * rows of expert e); an expert with no row is skipped.
     */
    static NDArray runSorted(NDArray rows, int[] count, IntFunction<Expert> expert) {
        NDList outputs = new NDList();
        long start = 0;
        for (int e = 0; e < count.length; e++) {
            if (count[e] == 0) {
                continue;
            }
            NDArray part = rows.get(new NDIndex("{}:{}", start, start + count[e]));
            start += count[e];
            Expert w = expert.apply(e);
            NDArray act = Ops.silu(Ops.linear(part, w.gate(), null)).mul(Ops.linear(part, w.up(), null));
            outputs.add(Ops.linear(act, w.down(), null));
        }
        if (outputs.isEmpty()) {
            return rows; // no row at all: an empty [0, H], still on the graph
        }
        return outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs, 0);
    }

    /**
     * The expert outputs back in (token, slot) order, weighted and summed over the k slots.
     *
     * @param byRow expert outputs, one row per (token, slot) pair, [T * k, H]
     * @param rowOfSlot the row of slot s, int64 [T * k]
     * @param weights the slots' routing weights, [T, k]
     */
    static NDArray combine(NDArray byRow, NDArray rowOfSlot, NDArray weights) {
        NDArray bySlot = gather(byRow, rowOfSlot);
        long tokens = weights.getShape().get(0);
        long k = weights.getShape().get(1);
        long h = byRow.getShape().get(1);
        return bySlot.reshape(tokens, k, h).mul(weights.expandDims(2)).sum(new int[] {1});
    }

    /** An int64 index tensor in libtorch-owned memory (a gather saves it for backward). */
    static NDArray index(NDManager manager, long[] values) {
        return Ops.owned(manager.create(values), DataType.INT64);
    }

    /** Rows {@code index} of {@code table} ([N, H]), differentiable in {@code table}. */
    static NDArray gather(NDArray table, NDArray index) {
        return JniUtils.embedding((PtNDArray) index, (PtNDArray) table, false);
    }
}
