package ai.omnispark.parallel.comm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.profile.Tracer;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * Argument checking, tensor-to-buffer views and the asynchronous hand-off shared by the
 * transports. Transports implement the {@code run*} methods, which run on the comm thread over
 * byte ranges starting at position 0 and never see a group of size 1.
 */
abstract class AbstractCommunicator implements Communicator {
    protected final int rank;
    protected final int size;
    protected final CommLane lane;

    AbstractCommunicator(int rank, int size, CommLane lane) {
        this.rank = rank;
        this.size = size;
        this.lane = lane;
    }

    @Override
    public final int rank() {
        return rank;
    }

    @Override
    public final int size() {
        return size;
    }

    protected abstract void runAllReduce(ByteBuffer buf, DataType dtype, ReduceOp op);

    protected abstract void runAllGather(ByteBuffer in, ByteBuffer out, DataType dtype);

    protected abstract void runReduceScatter(ByteBuffer in, ByteBuffer out, DataType dtype,
            ReduceOp op);

    /** Counts in elements; the local block is already copied. */
    protected abstract void runAllToAllV(ByteBuffer in, long[] sendCounts, ByteBuffer out,
            long[] recvCounts, DataType dtype);

    protected abstract void runBroadcast(ByteBuffer buf, DataType dtype, int root);

    protected abstract void runSend(ByteBuffer buf, DataType dtype, int peer);

    protected abstract void runRecv(ByteBuffer buf, DataType dtype, int peer);

    protected abstract void runBarrier();

    @Override
    public final void traceTo(Tracer tracer) {
        lane.traceTo(Objects.requireNonNull(tracer, "tracer"));
    }

    /** A communicator over {@code ranks} (validated), in which this rank has index {@code index}. */
    protected abstract Communicator newSplit(int[] ranks, int index);

    // ---- NDArray API ----

    @Override
    public Work allReduce(NDArray inOut, ReduceOp op) {
        return allReduce(Buffers.view(inOut, "allReduce inOut"), inOut.getDataType(), op);
    }

    @Override
    public Work allGather(NDArray input, NDArray output) {
        sameDtype("allGather", input, output);
        return allGather(Buffers.view(input, "allGather input"),
                Buffers.view(output, "allGather output"), input.getDataType());
    }

    @Override
    public Work reduceScatter(NDArray input, NDArray output, ReduceOp op) {
        sameDtype("reduceScatter", input, output);
        return reduceScatter(Buffers.view(input, "reduceScatter input"),
                Buffers.view(output, "reduceScatter output"), input.getDataType(), op);
    }

    @Override
    public Work allToAll(NDArray input, NDArray output) {
        sameDtype("allToAll", input, output);
        long n = input.size();
        if (output.size() != n || n % size != 0) {
            throw new IllegalArgumentException("allToAll needs input and output of equal size "
                    + "divisible by the group size " + size + ", got input " + n + " and output "
                    + output.size() + " elements");
        }
        long[] counts = new long[size];
        Arrays.fill(counts, n / size);
        return allToAllV(Buffers.view(input, "allToAll input"), counts,
                Buffers.view(output, "allToAll output"), counts, input.getDataType());
    }

    @Override
    public Work allToAllV(NDArray input, long[] sendCounts, NDArray output, long[] recvCounts) {
        sameDtype("allToAllV", input, output);
        return allToAllV(Buffers.view(input, "allToAllV input"), sendCounts,
                Buffers.view(output, "allToAllV output"), recvCounts, input.getDataType());
    }

    @Override
    public Work broadcast(NDArray inOut, int root) {
        return broadcast(Buffers.view(inOut, "broadcast inOut"), inOut.getDataType(), root);
    }

    @Override
    public Work send(NDArray input, int peer) {
        return send(Buffers.view(input, "send input"), input.getDataType(), peer);
    }

    @Override
    public Work recv(NDArray output, int peer) {
        return recv(Buffers.view(output, "recv output"), output.getDataType(), peer);
    }

    // ---- buffer API ----

    @Override
    public Work allReduce(ByteBuffer inOut, DataType dtype, ReduceOp op) {
        ByteBuffer b = Buffers.region(inOut, dtype, "allReduce inOut");
        Objects.requireNonNull(op, "op");
        return submitSkippingSingle("allReduce", b.remaining(), () -> runAllReduce(b, dtype, op));
    }

    @Override
    public Work allGather(ByteBuffer input, ByteBuffer output, DataType dtype) {
        ByteBuffer in = Buffers.region(input, dtype, "allGather input");
        ByteBuffer out = Buffers.region(output, dtype, "allGather output");
        if ((long) in.remaining() * size != out.remaining()) {
            throw new IllegalArgumentException("allGather output must hold size (" + size
                    + ") x input elements: input " + count(in, dtype) + ", output "
                    + count(out, dtype));
        }
        return submit("allGather", out.remaining(), () -> {
            Buffers.copy(in, Buffers.slice(out, (long) rank * in.remaining(), in.remaining()));
            if (size > 1) {
                runAllGather(in, out, dtype);
            }
        });
    }

    @Override
    public Work reduceScatter(ByteBuffer input, ByteBuffer output, DataType dtype, ReduceOp op) {
        ByteBuffer in = Buffers.region(input, dtype, "reduceScatter input");
        ByteBuffer out = Buffers.region(output, dtype, "reduceScatter output");
        Objects.requireNonNull(op, "op");
        if ((long) out.remaining() * size != in.remaining()) {
            throw new IllegalArgumentException("reduceScatter input must hold size (" + size
                    + ") x output elements: input " + count(in, dtype) + ", output "
                    + count(out, dtype));
        }
        return submit("reduceScatter", in.remaining(), () -> {
            if (size == 1) {
                Buffers.copy(in, out);
            } else {
                runReduceScatter(in, out, dtype, op);
            }
        });
    }

    @Override
    public Work allToAllV(ByteBuffer input, long[] sendCounts, ByteBuffer output,
            long[] recvCounts, DataType dtype) {
        ByteBuffer in = Buffers.region(input, dtype, "allToAllV input");
        ByteBuffer out = Buffers.region(output, dtype, "allToAllV output");
        long[] send = checkCounts("sendCounts", sendCounts, count(in, dtype));
        long[] recv = checkCounts("recvCounts", recvCounts, count(out, dtype));
        if (send[rank] != recv[rank]) {
            throw new IllegalArgumentException("allToAllV: sendCounts[" + rank + "]="
                    + send[rank] + " must equal recvCounts[" + rank + "]=" + recv[rank]
                    + " (the block this rank keeps)");
        }
        int e = Buffers.elementBytes(dtype);
        return submit("allToAllV", in.remaining(), () -> {
            Buffers.copy(Buffers.slice(in, offset(send, rank) * e, send[rank] * e),
                    Buffers.slice(out, offset(recv, rank) * e, recv[rank] * e));
            if (size > 1) {
                runAllToAllV(in, send, out, recv, dtype);
            }
        });
    }

    @Override
    public Work broadcast(ByteBuffer inOut, DataType dtype, int root) {
        ByteBuffer b = Buffers.region(inOut, dtype, "broadcast inOut");
        checkRank("broadcast root", root);
        return submitSkippingSingle("broadcast", b.remaining(), () -> runBroadcast(b, dtype, root));
    }

    @Override
    public Work send(ByteBuffer input, DataType dtype, int peer) {
        ByteBuffer b = Buffers.region(input, dtype, "send input");
        checkPeer("send", peer);
        return submit("send", b.remaining(), () -> runSend(b, dtype, peer));
    }

    @Override
    public Work recv(ByteBuffer output, DataType dtype, int peer) {
        ByteBuffer b = Buffers.region(output, dtype, "recv output");
        checkPeer("recv", peer);
        return submit("recv", b.remaining(), () -> runRecv(b, dtype, peer));
    }

    @Override
    public Work barrier() {
        return submitSkippingSingle("barrier", 0, this::runBarrier);
    }

    @Override
    public Communicator split(int[] groupRanks) {
        int[] ranks = groupRanks.clone();
        int index = -1;
        boolean[] seen = new boolean[size];
        for (int i = 0; i < ranks.length; i++) {
            checkRank("split rank", ranks[i]);
            if (seen[ranks[i]]) {
                throw new IllegalArgumentException("split: rank " + ranks[i] + " appears twice in "
                        + Arrays.toString(ranks));
            }
            seen[ranks[i]] = true;
            if (ranks[i] == rank) {
                index = i;
            }
        }
        if (index < 0) {
            throw new IllegalArgumentException("split: this rank " + rank + " is not among "
                    + Arrays.toString(ranks));
        }
        return newSplit(ranks, index);
    }

    // ---- helpers ----

    /** Queues an op that is a no-op in a group of one. */
    private Work submitSkippingSingle(String op, long bytes, Runnable body) {
        return lane.submit(op, rank, traced(bytes), () -> {
            if (size > 1) {
                body.run();
            }
        });
    }

    private Work submit(String op, long bytes, Runnable body) {
        return lane.submit(op, rank, traced(bytes), body);
    }

    /** The bytes a span of the op carries, or -1 (no span) in a group of one, where nothing moves. */
    private long traced(long bytes) {
        return size > 1 ? bytes : -1;
    }

    static long offset(long[] counts, int upTo) {
        long o = 0;
        for (int i = 0; i < upTo; i++) {
            o += counts[i];
        }
        return o;
    }

    private static long count(ByteBuffer b, DataType dtype) {
        return b.remaining() / Buffers.elementBytes(dtype);
    }

    private long[] checkCounts(String what, long[] counts, long total) {
        if (counts == null || counts.length != size) {
            throw new IllegalArgumentException("allToAllV: " + what + " must have " + size
                    + " entries, got " + (counts == null ? "null" : Arrays.toString(counts)));
        }
        long sum = 0;
        for (long c : counts) {
            if (c < 0) {
                throw new IllegalArgumentException("allToAllV: negative count in " + what + " "
                        + Arrays.toString(counts));
            }
            sum += c;
        }
        if (sum != total) {
            throw new IllegalArgumentException("allToAllV: " + what + " " + Arrays.toString(counts)
                    + " sum to " + sum + " but the buffer has " + total + " elements");
        }
        return counts.clone();
    }

    private void checkRank(String what, int r) {
        if (r < 0 || r >= size) {
            throw new IllegalArgumentException(what + " " + r + " is outside [0, " + size + ")");
        }
    }

    private void checkPeer(String op, int peer) {
        checkRank(op + " peer", peer);
        if (peer == rank) {
            throw new IllegalArgumentException(op + ": peer " + peer + " is this rank");
        }
    }

    private static void sameDtype(String op, NDArray input, NDArray output) {
        if (input.getDataType() != output.getDataType()) {
            throw new IllegalArgumentException(op + ": input dtype " + input.getDataType()
                    + " does not match output dtype " + output.getDataType());
        }
    }
}
