package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Ranks in different processes (or threads, over loopback), over NIO sockets. All-reduce is a
 * ring reduce-scatter followed by a ring all-gather, all-gather and reduce-scatter are one ring
 * pass each, all pipelined in chunks; all-to-all is a pairwise exchange. Bytes move straight
 * between sockets and tensor memory; each received chunk is combined as soon as it lands.
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
        ReduceWorker worker = links.worker();
        worker.begin();
        boolean ok = false;
        try {
            links.pump(op, rank, pass.flows(l, global[l], r, global[r]));
            ok = true;
        } finally {
            worker.drain(!ok);
        }
        Throwable failed = worker.failure();
        if (failed != null) {
            throw new CommException(op, rank, -1, "combining received data failed: " + failed, failed);
        }
    }

    /** Combines a received chunk on the reduce worker, then lets the ring forward it. */
    private void reduceLater(Ring pass, ByteBuffer dst, ByteBuffer src, DataType dtype, ReduceOp op) {
        ReduceWorker worker = links.worker();
        worker.submit(() -> worker.reducer().reduceInto(dst, src, dtype, op), () -> {
            if (pass.complete()) {
                links.wakeup();
            }
        });
    }

    @Override
    protected void runAllReduce(ByteBuffer buf, DataType dtype, ReduceOp op) {
        int e = Buffers.elementBytes(dtype);
        long[][] segs = Ring.evenSegments(buf.remaining() / e, size);
        ByteBuffer scratch = links.scratch(buf.remaining());
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
                return Buffers.slice(scratch, off, len);
            }

            @Override
            void arrived(int step, int segment, long off, long len) {
                reduceLater(this, Buffers.slice(buf, off, len), Buffers.slice(scratch, off, len),
                        dtype, op);
            }
        });
        if (op == ReduceOp.AVG) {
            reducer.divide(Buffers.slice(buf, segs[0][rank] * e, segs[1][rank] * e), dtype, size);
        }
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

    @Override
    protected void runReduceScatter(ByteBuffer in, ByteBuffer out, DataType dtype, ReduceOp op) {
        int e = Buffers.elementBytes(dtype);
        long mine = (long) rank * out.remaining();
        Buffers.copy(Buffers.slice(in, mine, out.remaining()), out);
        ByteBuffer scratch = links.scratch(in.remaining());
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
                return Buffers.slice(scratch, off, len);
            }

            @Override
            void arrived(int step, int segment, long off, long len) {
                ByteBuffer partial = Buffers.slice(scratch, off, len);
                if (segment == position) {
                    reduceLater(this, Buffers.slice(out, off - mine, len), partial, dtype, op);
                } else {
                    reduceLater(this, partial, Buffers.slice(in, off, len), dtype, op);
                }
            }
        });
        if (op == ReduceOp.AVG) {
            reducer.divide(out, dtype, size);
        }
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
