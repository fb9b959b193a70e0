package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.runtime.TensorMemory;
import java.nio.ByteBuffer;

/**
 * The all-to-alls of expert parallelism over the ep group, whose rank p holds experts
 * {@code [p * L, (p + 1) * L)} (L = E / ep): first the row counts (one equal-split all-to-all of
 * per-expert counts), then the rows themselves (one all-to-all with per-peer sizes). A rank sends
 * its rows sorted by expert, so the rows for peer q are one contiguous run; it receives them
 * grouped by source rank, each source's rows sorted by local expert. The reverse exchange (combine,
 * and the dispatch's backward) swaps the two count vectors.
 */
final class ExpertExchange {
    private ExpertExchange() {}

    /**
     * Rows from each source rank for each of this rank's local experts, source-major [ep * L], given
     * the rows this rank sends to each of the E experts ([E], expert-major, so peer q's share is
     * entries {@code [q * L, (q + 1) * L)}).
     */
    static long[] receivedPerExpert(Communicator ep, NDManager scope, long[] sentPerExpert) {
        if (sentPerExpert.length % ep.size() != 0) {
            throw new IllegalArgumentException(sentPerExpert.length + " experts cannot be split over " + ep.size()
                    + " expert-parallel ranks");
        }
        try (NDManager tmp = scope.newSubManager()) {
            NDArray send = tmp.create(sentPerExpert);
            NDArray recv = tmp.zeros(new Shape(sentPerExpert.length), DataType.INT64);
            ep.allToAll(send, recv).await();
            return recv.toLongArray();
        }
    }

    /** Sums of consecutive runs of {@code perExpert} of length {@code local}: rows per peer. */
    static long[] perPeer(long[] perExpert, int peers) {
        int local = perExpert.length / peers;
        long[] out = new long[peers];
        for (int q = 0; q < peers; q++) {
            for (int l = 0; l < local; l++) {
                out[q] += perExpert[q * local + l];
            }
        }
        return out;
    }

    /**
     * Sends {@code sendRows[q]} rows of {@code rows} ([sum, H], peer-major) to each peer q and
     * returns the {@code recvRows[s]} rows from each source s, source-major, as a new [sum, H]
     * array of {@code scope}. A collective over {@code ep}.
     */
    static NDArray exchange(Communicator ep, NDManager scope, NDArray rows, long[] sendRows, long[] recvRows) {
        long h = rows.getShape().get(1);
        long sent = sum(sendRows);
        long received = sum(recvRows);
        if (rows.getShape().get(0) != sent) {
            throw new IllegalStateException("expert exchange: " + rows.getShape().get(0) + " rows to send, the counts say "
                    + sent);
        }
        NDArray out = scope.zeros(new Shape(received, h), rows.getDataType());
        try (NDManager tmp = scope.newSubManager()) {
            NDArray in = contiguous(rows, tmp);
            ep.allToAllV(view(in), times(sendRows, h), view(out), times(recvRows, h), rows.getDataType()).await();
        }
        return out;
    }

    /** The tensor's memory as the transports read it; an empty buffer for an empty tensor. */
    private static ByteBuffer view(NDArray a) {
        if (a.size() == 0) {
            return ByteBuffer.allocateDirect(0);
        }
        return ((ai.djl.pytorch.engine.PtNDArray) a).toByteBuffer(true).order(java.nio.ByteOrder.nativeOrder());
    }

    private static NDArray contiguous(NDArray a, NDManager tmp) {
        if (a.size() == 0 || TensorMemory.isContiguous(a)) {
            return a;
        }
        NDArray copy = tmp.zeros(a.getShape(), a.getDataType());
        copy.set(new NDIndex(":"), a);
        return copy;
    }

    private static long[] times(long[] counts, long h) {
        long[] out = new long[counts.length];
        for (int i = 0; i < counts.length; i++) {
            out[i] = counts[i] * h;
        }
        return out;
    }

    static long sum(long[] values) {
        long s = 0;
        for (long v : values) {
            s += v;
        }
        return s;
    }
}
