package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;

/**
 * The authenticated connections of one rank to every other rank, and the single-threaded pump
 * that moves bytes between them and direct buffers. Used only from the comm thread, except
 * {@link #abort}, which any thread may call to make the pump and the peers fail at once.
 */
final class TcpLinks {
    private final int rank;
    private final SocketChannel[] channels;
    private final SelectionKey[] keys;
    private final byte[][] jvmIds;
    private final Selector selector;
    private final long timeoutNanos;
    private ByteBuffer scratch;
    private ByteBuffer staging;
    private volatile boolean aborted;

    TcpLinks(int rank, SocketChannel[] channels, byte[][] jvmIds, Duration timeout)
            throws IOException {
        this.rank = rank;
        this.channels = channels;
        this.jvmIds = jvmIds;
        this.timeoutNanos = timeout.toNanos();
        this.selector = Selector.open();
        this.keys = new SelectionKey[channels.length];
        for (int r = 0; r < channels.length; r++) {
            if (r != rank) {
                keys[r] = channels[r].register(selector, 0);
            }
        }
    }

    int worldSize() {
        return channels.length;
    }

    /** Whether the connection to {@code peer} is a Unix domain socket (tests, logs). */
    boolean overLocalSocket(int peer) {
        try {
            return channels[peer].getRemoteAddress() instanceof java.net.UnixDomainSocketAddress;
        } catch (IOException e) {
            return false;
        }
    }

    /** The TCP congestion control the kernel runs on the link to {@code peer} (tests, logs). */
    String congestionControl(int peer) {
        return TcpCongestion.current(channels[peer]);
    }

    /** Whether every peer runs in this JVM. */
    boolean allInThisJvm() {
        byte[] me = JvmId.get();
        for (int r = 0; r < jvmIds.length; r++) {
            if (r != rank && !Arrays.equals(jvmIds[r], me)) {
                return false;
            }
        }
        return true;
    }

    /** A direct buffer of at least {@code bytes}, reused across ops (comm thread only). */
    ByteBuffer scratch(long bytes) {
        scratch = atLeast(scratch, bytes);
        return Buffers.slice(scratch, 0, bytes);
    }

    /**
     * A direct buffer of at least {@code bytes} (one chunk) where received chunks wait to be
     * combined, reused across ops (comm thread only); small, so that it stays in cache.
     */
    ByteBuffer staging(long bytes) {
        staging = atLeast(staging, bytes);
        return Buffers.slice(staging, 0, bytes);
    }

    private static ByteBuffer atLeast(ByteBuffer current, long bytes) {
        return current != null && current.capacity() >= bytes ? current : Buffers.allocate(Math.max(bytes, 1));
    }

    /**
     * Moves every flow to completion. Fails with the flow's peer named if a connection closes or
     * errs, or if nothing moves for the timeout.
     */
    void pump(String op, int localRank, Flow... flows) {
        long lastProgress = System.nanoTime();
        try {
            while (true) {
                boolean progress = false;
                boolean done = true;
                for (Flow f : flows) {
                    progress |= advance(op, localRank, f);
                    done &= f.finished();
                }
                if (done) {
                    return;
                }
                long now = System.nanoTime();
                if (progress) {
                    lastProgress = now;
                    continue;
                }
                long left = timeoutNanos - (now - lastProgress);
                if (left <= 0) {
                    Flow stuck = blame(flows);
                    throw new CommException(op, localRank, stuck.peer, "rank " + stuck.peer
                            + " stopped answering: nothing " + (stuck.sending ? "sent" : "received")
                            + " for " + timeoutNanos / 1_000_000 + " ms");
                }
                waitForSockets(flows, left);
            }
        } catch (ClosedSelectorException | java.nio.channels.CancelledKeyException e) {
            throw new CommException(op, localRank, -1, "connections closed", e);
        }
    }

    private boolean advance(String op, int localRank, Flow f) {
        boolean progress = false;
        SocketChannel ch = channels[f.globalPeer];
        while (true) {
            if (f.current == null) {
                f.current = f.next();
                if (f.current == null) {
                    return progress;
                }
            }
            if (f.current.hasRemaining()) {
                int n;
                try {
                    n = f.sending ? ch.write(f.current) : ch.read(f.current);
                } catch (IOException e) {
                    throw new CommException(op, localRank, f.peer, (aborted ? "aborted; " : "")
                            + (f.sending ? "sending to" : "receiving from") + " rank " + f.peer
                            + " failed: " + e, e);
                }
                if (n < 0) {
                    throw new CommException(op, localRank, f.peer,
                            "rank " + f.peer + " closed the connection");
                }
                if (n > 0) {
                    progress = true;
                }
                if (f.current.hasRemaining()) {
                    return progress;
                }
            }
            f.current = null;
            f.moved();
            progress = true;
        }
    }

    private void waitForSockets(Flow[] flows, long leftNanos) {
        int[] ops = new int[channels.length];
        for (Flow f : flows) {
            if (!f.finished() && f.current != null) {
                ops[f.globalPeer] |= f.sending ? SelectionKey.OP_WRITE : SelectionKey.OP_READ;
            }
        }
        for (int r = 0; r < keys.length; r++) {
            if (keys[r] != null && keys[r].interestOps() != ops[r]) {
                keys[r].interestOps(ops[r]);
            }
        }
        try {
            selector.select(Math.max(1, Math.min(leftNanos / 1_000_000, 1000)));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        selector.selectedKeys().clear();
    }

    private static Flow blame(Flow[] flows) {
        for (Flow f : flows) {
            if (!f.finished() && !f.sending) {
                return f;
            }
        }
        for (Flow f : flows) {
            if (!f.finished()) {
                return f;
            }
        }
        return flows[0];
    }

    /** Closes every connection so that the pump and the peers fail now; any thread. */
    void abort() {
        aborted = true;
        for (SocketChannel c : channels) {
            TcpRendezvous.closeQuietly(c);
        }
        selector.wakeup();
    }

    /** Releases the selector after the comm thread has stopped. */
    void close() {
        abort();
        TcpRendezvous.closeQuietly(selector);
    }
}
