package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Ranks that are threads of one JVM. Each op posts its buffers, meets the others at a barrier,
 * then reads their memory directly: no serialization and no intermediate copies. All-reduce is
 * split so every rank reduces its own 1/n segment in one fused pass over all inputs and writes
 * the result into every rank's buffer, so the work is spread over the ranks' comm threads and
 * each byte is read and written once.
 */
final class InProcessCommunicator extends AbstractCommunicator {
    private final InProcessGroup group;
    private final boolean ownsLane;

    private InProcessCommunicator(int rank, InProcessGroup group, CommLane lane, boolean ownsLane) {
        super(rank, group.size(), lane);
        this.group = group;
        this.ownsLane = ownsLane;
    }

    /** Joins (blocking) the in-process group of the config's job. */
    static InProcessCommunicator create(CommConfig config) {
        InProcessGroup group = InProcessRegistry.join(config);
        int rank = config.rank();
        // A failure, or a close with ops in flight, breaks the group (and every group split from
        // it): peers are in unknown states. A close with nothing in flight only departs, so the
        // peers' ops that do not need this rank go on.
        CommLane lane = new CommLane(rank,
                () -> group.breakGroup(rank, "communicator closed or failed"),
                () -> group.depart(rank));
        return new InProcessCommunicator(rank, group, lane, true);
    }

    @Override
    protected Communicator newSplit(int[] ranks, int index) {
        return new InProcessCommunicator(index, group.subgroup(ranks), lane, false);
    }

    /** One rank's arguments, as the others see them. */
    private static final class Post {
        final String op;
        final long seq;
        final ByteBuffer buf;
        final DataType dtype;
        final ReduceOp reduce;
        final long[] send;
        final long[] recv;
        final int root;

        Post(String op, long seq, ByteBuffer buf, DataType dtype, ReduceOp reduce, long[] send,
                long[] recv, int root) {
            this.op = op;
            this.seq = seq;
            this.buf = buf;
            this.dtype = dtype;
            this.reduce = reduce;
            this.send = send;
            this.recv = recv;
            this.root = root;
        }

        int bytes() {
            return buf == null ? 0 : buf.remaining();
        }

        String describe() {
            return op + " (op #" + seq + " of the group)"
                    + (buf != null ? " of " + bytes() + " bytes of " + dtype : "")
                    + (reduce != null ? " " + reduce : "") + (root >= 0 ? " root " + root : "");
        }
    }

    private Post post(String op, ByteBuffer buf, DataType dtype, ReduceOp reduce, long[] send,
            long[] recv, int root) {
        return new Post(op, group.nextOp(rank), buf, dtype, reduce, send, recv, root);
    }

    /**
     * Posts, meets the others, and checks that every rank issued the same op. Every collective
     * starts with a meet and ends with a barrier, so the ranks read each other's posts only
     * while all of them are inside the same op.
     */
    private Post[] meet(Post mine) {
        group.post(rank, mine);
        group.await(mine.op, rank);
        Post[] all = new Post[size];
        for (int r = 0; r < size; r++) {
            Post p = (Post) group.slot(r);
            if (p == null) {
                throw new CommException(mine.op, rank, r, "ranks disagree: this rank issued "
                        + mine.describe() + ", rank " + r + " issued no collective");
            }
            all[r] = p;
            boolean same = p.op.equals(mine.op) && p.seq == mine.seq && p.dtype == mine.dtype
                    && p.reduce == mine.reduce && p.root == mine.root
                    && (mine.send != null || p.bytes() == mine.bytes());
            if (!same) {
                throw new CommException(mine.op, rank, r, "ranks disagree: this rank issued "
                        + mine.describe() + ", rank " + r + " issued " + p.describe());
            }
        }
        return all;
    }

    /**
     * Runs one op's exchange. On failure the group is broken, so no peer begins another copy
     * phase of it, and this rank waits until no peer is still inside one: only then may the
     * op's work complete and the caller free the buffers that the peers were reading or writing.
     */
    private void guarded(Runnable body) {
        boolean ok = false;
        try {
            body.run();
            ok = true;
        } catch (RuntimeException | Error e) {
            group.breakGroup(rank, "failed: " + e.getMessage());
            throw e;
        } finally {
            group.leave(rank);
            if (!ok) {
                group.drain();
            }
        }
    }

    @Override
    protected void runAllReduce(ByteBuffer buf, DataType dtype, ReduceOp op) {
        guarded(() -> {
            Post[] all = meet(post("allReduce", buf, dtype, op, null, null, -1));
            int e = Buffers.elementBytes(dtype);
            long count = buf.remaining() / e;
            ByteBuffer[] parts = new ByteBuffer[size];
            for (int r = 0; r < size; r++) {
                parts[r] = segment(all[r].buf, count, rank, e);
            }
            // This rank alone touches segment `rank` of every buffer: it combines the segment
            // from all inputs and writes the result into all of them while the tile is in cache,
            // so no rank has to re-read another's finished segment afterwards.
            lane.reducer().combine(parts, parts, dtype, op, op == ReduceOp.AVG ? size : 1);
            group.await("allReduce", rank);
        });
    }

    /** Segment {@code i} of {@code n} near-equal segments of a buffer of {@code count} elements. */
    private ByteBuffer segment(ByteBuffer buf, long count, int i, int e) {
        long base = count / size;
        long rem = count % size;
        long off = i * base + Math.min(i, rem);
        long len = base + (i < rem ? 1 : 0);
        return Buffers.slice(buf, off * e, len * e);
    }

    @Override
    protected void runAllGather(ByteBuffer in, ByteBuffer out, DataType dtype) {
        guarded(() -> {
            Post[] all = meet(post("allGather", in, dtype, null, null, null, -1));
            int n = in.remaining();
            for (int r = 0; r < size; r++) {
                if (r != rank) {
                    Buffers.copy(all[r].buf, Buffers.slice(out, (long) r * n, n));
                }
            }
            group.await("allGather", rank);
        });
    }

    @Override
    protected void runReduceScatter(ByteBuffer in, ByteBuffer out, DataType dtype, ReduceOp op) {
        guarded(() -> {
            Post[] all = meet(post("reduceScatter", in, dtype, op, null, null, -1));
            int n = out.remaining();
            ByteBuffer[] parts = new ByteBuffer[size];
            for (int r = 0; r < size; r++) {
                parts[r] = Buffers.slice(all[r].buf, (long) rank * n, n);
            }
            lane.reducer().combine(new ByteBuffer[] {out}, parts, dtype, op,
                    op == ReduceOp.AVG ? size : 1);
            group.await("reduceScatter", rank);
        });
    }

    @Override
    protected void runAllToAllV(ByteBuffer in, long[] sendCounts, ByteBuffer out,
            long[] recvCounts, DataType dtype) {
        guarded(() -> {
            Post[] all = meet(post("allToAllV", in, dtype, null, sendCounts, recvCounts, -1));
            int e = Buffers.elementBytes(dtype);
            for (int r = 0; r < size; r++) {
                if (r != rank && all[r].send[rank] != recvCounts[r]) {
                    long[] theirSend = all[r].send;
                    throw new CommException("allToAllV", rank, r, "rank " + r + " sends "
                            + theirSend[rank] + " elements to rank " + rank + ", which expects "
                            + recvCounts[r] + " (sendCounts " + Arrays.toString(theirSend)
                            + ", recvCounts " + Arrays.toString(recvCounts) + ")");
                }
            }
            for (int r = 0; r < size; r++) {
                if (r == rank) {
                    continue;
                }
                long[] theirSend = all[r].send;
                Buffers.copy(
                        Buffers.slice(all[r].buf, offset(theirSend, rank) * e, theirSend[rank] * e),
                        Buffers.slice(out, offset(recvCounts, r) * e, recvCounts[r] * e));
            }
            group.await("allToAllV", rank);
        });
    }

    @Override
    protected void runBroadcast(ByteBuffer buf, DataType dtype, int root) {
        guarded(() -> {
            Post[] all = meet(post("broadcast", buf, dtype, null, null, null, root));
            if (rank != root) {
                Buffers.copy(all[root].buf, buf);
            }
            group.await("broadcast", rank);
        });
    }

    @Override
    protected void runSend(ByteBuffer buf, DataType dtype, int peer) {
        guarded(() -> group.send("send", rank, peer, buf, dtype));
    }

    @Override
    protected void runRecv(ByteBuffer buf, DataType dtype, int peer) {
        guarded(() -> group.recv("recv", rank, peer, buf, dtype));
    }

    @Override
    protected void runBarrier() {
        // posts too, so that a barrier issued against another rank's collective is caught
        // rather than letting that rank read this rank's stale post
        guarded(() -> {
            meet(post("barrier", null, null, null, null, null, -1));
            group.await("barrier", rank);
        });
    }

    @Override
    public void close() {
        if (ownsLane) {
            lane.close();
        }
    }
}
