package ai.omnispark.parallel.comm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.profile.Tracer;
import java.nio.ByteBuffer;

/**
 * Collectives over a fixed group of ranks.
 *
 * <p>Every op returns at once with a {@link Work}; ops run in the order they were issued, one at
 * a time, on the communicator's comm thread (shared with communicators {@link #split} from it), so
 * compute can overlap them. Every rank of the group must issue the same ops in the same order, as
 * with NCCL. Arrays must be flat, contiguous CPU tensors of FLOAT32, FLOAT16, INT64 or INT32, and
 * must stay open and untouched until the op's work is done. Counts are in elements. Buffers are
 * direct ByteBuffers; the op uses their bytes from position to limit and leaves position alone.
 *
 * <p>Invalid arguments (dtype mismatch, sizes) throw IllegalArgumentException at once; failures of
 * the exchange surface as {@link CommException} from {@link Work#await()}.
 */
public interface Communicator extends AutoCloseable {
    /** This rank's index in the group. */
    int rank();

    /** Number of ranks in the group. */
    int size();

    /** Reduces {@code inOut} over all ranks, in place. */
    Work allReduce(NDArray inOut, ReduceOp op);

    /** Gathers every rank's {@code input} into {@code output}, rank-major. */
    Work allGather(NDArray input, NDArray output);

    /** Reduces {@code input} (size × output elements) over ranks; rank r receives slice r. */
    Work reduceScatter(NDArray input, NDArray output, ReduceOp op);

    /** Equal-split all-to-all: slice j of {@code input} goes to rank j, slice i of output came from rank i. */
    Work allToAll(NDArray input, NDArray output);

    /**
     * All-to-all with per-peer element counts: the first sendCounts[0] elements go to rank 0 and so
     * on; recvCounts[i] elements from rank i land in output in rank order. Zero counts are allowed.
     * sendCounts[j] on rank i must equal recvCounts[i] on rank j.
     */
    Work allToAllV(NDArray input, long[] sendCounts, NDArray output, long[] recvCounts);

    /** Copies {@code root}'s {@code inOut} into every other rank's {@code inOut}. */
    Work broadcast(NDArray inOut, int root);

    /** Sends {@code input} to {@code peer}; matched with the peer's recv in issue order. */
    Work send(NDArray input, int peer);

    /** Receives from {@code peer} into {@code output}, which must have the sent size and dtype. */
    Work recv(NDArray output, int peer);

    /** Completes once every rank has reached it. */
    Work barrier();

    Work allReduce(ByteBuffer inOut, DataType dtype, ReduceOp op);

    Work allGather(ByteBuffer input, ByteBuffer output, DataType dtype);

    Work reduceScatter(ByteBuffer input, ByteBuffer output, DataType dtype, ReduceOp op);

    Work allToAllV(ByteBuffer input, long[] sendCounts, ByteBuffer output, long[] recvCounts,
            DataType dtype);

    Work broadcast(ByteBuffer inOut, DataType dtype, int root);

    Work send(ByteBuffer input, DataType dtype, int peer);

    Work recv(ByteBuffer output, DataType dtype, int peer);

    /**
     * A communicator over the given global ranks of this one, in the given order; this rank must be
     * among them. Every rank in {@code groupRanks} calls it with the same array. The result shares
     * this communicator's comm thread and connections; closing it does not close this one, closing
     * this one fails the result's ops.
     */
    Communicator split(int[] groupRanks);

    /**
     * Times every op from now on as a span of the comm thread named after the op, with the bytes
     * of the whole tensor it moves (all-gather's output, reduce-scatter's input); ops of a group
     * of one rank move nothing and are not traced. Applies to the whole family: this communicator,
     * those split from it and it from, which share the comm thread.
     */
    void traceTo(Tracer tracer);

    /** Releases sockets and threads; ops still pending fail with {@link CommException}. */
    @Override
    void close();
}
