package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Ranks in different processes (or threads, over loopback), over NIO sockets. All-reduce is a
 * ring reduce-scatter followed by a ring all-gather, all-gather and reduce-scatter are one ring
 * pass each, all pipelined in chunks; all-to-all is a pairwise exchange. Bytes move straight
 * between sockets and tensor memory, except chunks to be reduced: they land in a small staging
 * buffer and are combined as soon as they arrive.
 *
 * <p>Pairwise ops (all-to-all, broadcast, send/recv) carry a small header with the op and byte
 * count, so ranks that disagree fail loudly instead of misreading the stream.
 */
final class TcpCommunicator extends AbstractCommunicator {
    private static final long TAG_ALL_TO_ALL = 1;
    private static final long TAG_BROADCAST = 2;
    private static final long TAG_SEND = 3;

    private final TcpLinks links;
    private final int[] global;
    private final int chunkBytes;
    private final boolean owner;

    private TcpCommunicator(int rank, int[] global, TcpLinks links, CommLane lane, int chunkBytes,
            boolean owner) {
        super(rank, global.length, lane);
        this.global = global;
        this.links = links;
        this.chunkBytes = chunkBytes;
        this.owner = owner;
    }

    static TcpCommunicator create(TcpLinks links, CommConfig config) {
        int[] global = new int[links.worldSize()];
        for (int i = 0; i < global.length; i++) {
            global[i] = i;
        }
        CommLane lane = new CommLane(config.rank(), links::abort);
        return new TcpCommunicator(config.rank(), global, links, lane, config.chunkBytes(), true);
    }

    /**
     * Fails unless every link of this rank is a Unix domain socket ({@code localSockets}) or every
     * one is TCP, so that a number or a test labelled one kind is not silently the other.
     */
    void checkLinks(boolean localSockets) {
        for (int p = 0; p < size; p++) {
            if (p != rank && links.overLocalSocket(global[p]) != localSockets) {
                throw new IllegalStateException("rank " + rank + " reached rank " + p
                        + (localSockets ? " over TCP, not a Unix socket" : " over a Unix socket, not TCP"));
            }
        }
    }

    /** The TCP congestion control on this communicator's link to group rank {@code peer}. */
    String congestionControl(int peer) {
        return links.congestionControl(global[peer]);
    }

    @Override
    protected Communicator newSplit(int[] ranks, int index) {
        int[] g = new int[ranks.length];
        for (int i = 0; i < ranks.length; i++) {
            g[i] = global[ranks[i]];
        }
        return new TcpCommunicator(index, g, links, lane, chunkBytes, false);
    }

    private int left() {
        return Math.floorMod(rank - 1, size);
    }

    private int right() {
        return Math.floorMod(rank + 1, size);
    }

    private void ring(String op, Ring pass) {
        int l = left();
        int r = right();
        links.pump(op, rank, pass.flows(l, global[l], r, global[r]));
    }

    /**
     * Ring reduce-scatter, then ring all-gather. Each chunk of the reduce-scatter lands in a
     * chunk-sized staging buffer that stays in cache and is combined into the tensor at once, on
     * this thread: on a machine whose cores are all busy (ranks &ge; cores), handing chunks to a
     * second thread cost context switches and a cold tensor-sized scratch buffer, ~25% more CPU
     * per all-reduce here, while the kernel's socket buffers keep the links moving during the
     * combine anyway. The last step brings this rank's own segment, where a mean is finished.
     */
    @Override
    protected void runAllReduce(ByteBuffer buf, DataType dtype, ReduceOp op) {
        int e = Buffers.elementBytes(dtype);
        long[][] segs = Ring.evenSegments(buf.remaining() / e, size);
        ByteBuffer staging = links.staging(chunkBytes);
        Reducer reducer = lane.reducer();
        ring("allReduce", new Ring(size, rank, e, chunkBytes, segs[0], segs[1]) {
            @Override
            int sendSegment(int step) {
                return mod(position - step - 1);
            }

            @Override
            int recvSegment(int step) {
                return mod(position - step - 2);
            }

            @Override
            ByteBuffer sendFrom(int step, int segment, long off, long len) {
                return Buffers.slice(buf, off, len);
            }

            @Override
            ByteBuffer recvInto(int step, int segment, long off, long len) {
                return Buffers.slice(staging, 0, len);
            }

            @Override
            void arrived(int step, int segment, long off, long len) {
                ByteBuffer dst = Buffers.slice(buf, off, len);
                int divisor = op == ReduceOp.AVG && segment == position ? size : 1;
                reducer.combine(new ByteBuffer[] {dst},
                        new ByteBuffer[] {dst, Buffers.slice(staging, 0, len)}, dtype, op, divisor);
                complete();
            }
        });
        ring("allReduce", gather(buf, e, segs));
    }

    /** The all-gather pass: each rank starts with its own segment and forwards what it receives. */
    private Ring gather(ByteBuffer buf, int e, long[][] segs) {
        return new Ring(size, rank, e, chunkBytes, segs[0], segs[1]) {
            @Override
            int sendSegment(int step) {
                return mod(position - step);
            }

            @Override
            int recvSegment(int step) {
                return mod(position - step - 1);
            }

            @Override
            ByteBuffer sendFrom(int step, int segment, long off, long len) {
                return Buffers.slice(buf, off, len);
            }

            @Override
            ByteBuffer recvInto(int step, int segment, long off, long len) {
                return Buffers.slice(buf, off, len);
            }

        };
    }

    private long[][] equalSegments(long perRank) {
        long[] off = new long[size];
        long[] len = new long[size];
        for (int i = 0; i < size; i++) {
            off[i] = i * perRank;
            len[i] = perRank;
        }
        return new long[][] {off, len};
    }

    @Override
    protected void runAllGather(ByteBuffer in, ByteBuffer out, DataType dtype) {
        int e = Buffers.elementBytes(dtype);
        ring("allGather", gather(out, e, equalSegments(in.remaining() / e)));
    }

    /**
     * One ring pass; chunks land in the staging buffer and are combined with this rank's input
     * at once (see {@link #runAllReduce}). Partial sums wait in scratch until forwarded (a whole
     * step later, so they need segment-sized room); the last step's own segment is combined
     * straight into {@code out}, mean included.
     */
    @Override
    protected void runReduceScatter(ByteBuffer in, ByteBuffer out, DataType dtype, ReduceOp op) {
        int e = Buffers.elementBytes(dtype);
        long mine = (long) rank * out.remaining();
        ByteBuffer scratch = links.scratch(in.remaining());
        ByteBuffer staging = links.staging(chunkBytes);
        Reducer reducer = lane.reducer();
        long[][] segs = equalSegments(out.remaining() / e);
        ring("reduceScatter", new Ring(size, rank, e, chunkBytes, segs[0], segs[1]) {
            @Override
            int sendSegment(int step) {
                return mod(position - step - 1);
            }

            @Override
            int recvSegment(int step) {
                return mod(position - step - 2);
            }

            @Override
            ByteBuffer sendFrom(int step, int segment, long off, long len) {
                // Step 0 forwards raw input; later steps forward the partial sums received.
                return Buffers.slice(step == 0 ? in : scratch, off, len);
            }

            @Override
            ByteBuffer recvInto(int step, int segment, long off, long len) {
                return Buffers.slice(staging, 0, len);
            }

            @Override
            void arrived(int step, int segment, long off, long len) {
                ByteBuffer[] srcs = {Buffers.slice(staging, 0, len), Buffers.slice(in, off, len)};
                if (segment == position) {
                    reducer.combine(new ByteBuffer[] {Buffers.slice(out, off - mine, len)}, srcs,
                            dtype, op, op == ReduceOp.AVG ? size : 1);
                } else {
                    reducer.combine(new ByteBuffer[] {Buffers.slice(scratch, off, len)}, srcs,
                            dtype, op, 1);
                }
                complete();
            }
        });
    }

    @Override
    protected void runAllToAllV(ByteBuffer in, long[] sendCounts, ByteBuffer out,
            long[] recvCounts, DataType dtype) {
        int e = Buffers.elementBytes(dtype);
        // Pairwise exchange, all pairs at once: every socket carries one message each way and
        // the pump keeps them all moving. The order k = 1..n-1 (to rank+k, from rank-k) staggers
        // which peer each rank starts writing to.
        Flow[] flows = new Flow[2 * (size - 1)];
        for (int k = 1; k < size; k++) {
            int to = Math.floorMod(rank + k, size);
            int from = Math.floorMod(rank - k, size);
            ByteBuffer data = Buffers.slice(in, offset(sendCounts, to) * e, sendCounts[to] * e);
            ByteBuffer into = Buffers.slice(out, offset(recvCounts, from) * e, recvCounts[from] * e);
            flows[2 * (k - 1)] = sender(to, TAG_ALL_TO_ALL, data);
            flows[2 * (k - 1) + 1] = receiver("allToAllV", from, TAG_ALL_TO_ALL, into);
        }
        links.pump("allToAllV", rank, flows);
    }

    @Override
    protected void runBroadcast(ByteBuffer buf, DataType dtype, int root) {
        if (rank == root) {
            List<Flow> flows = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                if (r != rank) {
                    flows.add(sender(r, TAG_BROADCAST, buf));
                }
            }
            links.pump("broadcast", rank, flows.toArray(new Flow[0]));
        } else {
            links.pump("broadcast", rank, receiver("broadcast", root, TAG_BROADCAST, buf));
        }
    }

    @Override
    protected void runSend(ByteBuffer buf, DataType dtype, int peer) {
        links.pump("send", rank, sender(peer, TAG_SEND, buf));
    }

    @Override
    protected void runRecv(ByteBuffer buf, DataType dtype, int peer) {
        links.pump("recv", rank, receiver("recv", peer, TAG_SEND, buf));
    }

    @Override
    protected void runBarrier() {
        List<Flow> flows = new ArrayList<>();
        for (int r = 0; r < size; r++) {
            if (r != rank) {
                flows.add(Flow.of(r, global[r], true, new ByteBuffer[] {Buffers.allocate(1)}, null));
                flows.add(Flow.of(r, global[r], false, new ByteBuffer[] {Buffers.allocate(1)}, null));
            }
        }
        links.pump("barrier", rank, flows.toArray(new Flow[0]));
    }

    private Flow sender(int peer, long tag, ByteBuffer data) {
        ByteBuffer header = Buffers.allocate(16);
        header.putLong(0, tag).putLong(8, data.remaining());
        return Flow.of(peer, global[peer], true, new ByteBuffer[] {header, data.duplicate()}, null);
    }

    private Flow receiver(String op, int peer, long tag, ByteBuffer into) {
        ByteBuffer header = Buffers.allocate(16);
        long expected = into.remaining();
        return Flow.of(peer, global[peer], false, new ByteBuffer[] {header, into.duplicate()}, i -> {
            if (i == 0 && (header.getLong(0) != tag || header.getLong(8) != expected)) {
                throw new CommException(op, rank, peer, "rank " + peer + " sent op tag "
                        + header.getLong(0) + " with " + header.getLong(8) + " bytes; this rank "
                        + "expected tag " + tag + " with " + expected + " bytes");
            }
        });
    }

    @Override
    public void close() {
        if (owner) {
            lane.close();
            links.close();
        }
    }
}
