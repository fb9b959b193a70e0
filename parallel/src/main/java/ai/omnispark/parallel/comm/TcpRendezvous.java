package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the full mesh of authenticated connections: rank r listens on its own address, connects
 * to every lower rank and accepts every higher one. Ranks on this host are reached over Unix
 * domain sockets where possible ({@link LocalSockets}), others over TCP. Connections that fail
 * the handshake, on either listener, are closed and logged and never join; the job goes on
 * waiting for the real peer. Anyone who can reach a listener may connect, so handshakes before
 * authentication are bounded: at most {@link #maxPendingHandshakes} at a time per rank (the others
 * wait in the listen backlog), each for at most {@link #HANDSHAKE_TIMEOUT_NANOS}.
 */
final class TcpRendezvous {
    private static final Logger LOG = LoggerFactory.getLogger(TcpRendezvous.class);
    /**
     * A real peer answers in milliseconds; a silent connection holds its slot this long at most
     * (or a quarter of the rendezvous timeout, if shorter).
     */
    static final long HANDSHAKE_TIMEOUT_NANOS = 10_000_000_000L;

    private final CommConfig config;
    private final int rank;
    private final int world;
    private final Handshake handshake;
    private final SocketChannel[] channels;
    private final byte[][] jvmIds;
    private final long deadline;
    private final TcpCongestion congestion;
    private final java.util.concurrent.Semaphore handshakeSlots;

    private TcpRendezvous(CommConfig config) {
        this.config = config;
        this.rank = config.rank();
        this.world = config.worldSize();
        this.handshake = new Handshake(config.secret(), world, config.attempt());
        this.handshakeSlots = new java.util.concurrent.Semaphore(maxPendingHandshakes(rank, world));
        this.channels = new SocketChannel[world];
        this.jvmIds = new byte[world][];
        this.deadline = System.nanoTime() + config.timeout().toNanos();
        try {
            this.congestion = TcpCongestion.resolve(config.tcpCongestion());
        } catch (IllegalStateException e) {
            throw new CommException("rendezvous", rank, -1, e.getMessage(), e);
        }
    }

    /** Blocks until every peer is connected and authenticated, or fails after the timeout. */
    static TcpLinks connect(CommConfig config) {
        return new TcpRendezvous(config).run();
    }

    /** Twice the peers that connect to {@code rank} (a Unix and a TCP try each), and at least 4. */
    static int maxPendingHandshakes(int rank, int world) {
        return Math.max(4, 2 * (world - 1 - rank));
    }

    static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("peer address must be host:port, got " + hostPort);
        }
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in peer address " + hostPort, e);
        }
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("peer address " + hostPort
                    + " needs a fixed port in 1..65535 (port 0 cannot be shared with peers)");
        }
        return new InetSocketAddress(hostPort.substring(0, colon), port);
    }

    private TcpLinks run() {
        List<String> peers = config.peers();
        InetSocketAddress[] addrs = new InetSocketAddress[world];
        for (int r = 0; r < world; r++) {
            addrs[r] = parse(peers.get(r));
        }
        ServerSocketChannel server = null;
        ServerSocketChannel local = null;
        Path localPath = null;
        boolean ok = false;
        try {
            if (rank < world - 1) {
                // Unix first: a same-host peer that finds the TCP port open then finds the file too
                localPath = localPath(addrs[rank]);
                local = listenLocally(localPath);
                if (local != null) {
                    startAcceptor(local, "unix");
                }
                server = ServerSocketChannel.open();
                server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                server.bind(addrs[rank], world);
                startAcceptor(server, "tcp");
            }
            for (int q = 0; q < rank; q++) {
                connectTo(q, addrs[q], localPath(addrs[q]));
            }
            awaitAccepted();
            ok = true;
            return new TcpLinks(rank, channels, jvmIds, config.timeout());
        } catch (IOException e) {
            throw new CommException("rendezvous", rank, -1, "cannot listen on " + addrs[rank]
                    + ": " + e, e);
        } finally {
            closeQuietly(server);
            closeQuietly(local);
            if (local != null) {
                LocalSockets.remove(localPath); // only needed while peers connect
            }
            if (!ok) {
                synchronized (channels) {
                    for (SocketChannel c : channels) {
                        closeQuietly(c);
                    }
                }
            }
        }
    }

    /** The Unix socket of the rank at {@code addr} if it may be used from here, else null. */
    private Path localPath(InetSocketAddress addr) {
        if (!config.localSockets() || !LocalSockets.isThisHost(addr)) {
            return null;
        }
        return LocalSockets.path(LocalSockets.tmpDir(), config.secret(), addr);
    }

    /** A Unix listener next to the TCP one, or null: peers then simply connect over TCP. */
    private ServerSocketChannel listenLocally(Path path) {
        if (path == null) {
            return null;
        }
        try {
            return LocalSockets.listen(path, world);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.info("rank {} accepts over TCP only: cannot listen on {}: {}", rank, path, e.toString());
            return null;
        }
    }

    private void startAcceptor(ServerSocketChannel server, String kind) {
        Thread acceptor = new Thread(() -> acceptLoop(server),
                "omnispark-comm-accept-" + kind + "-" + rank);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private void connectTo(int q, InetSocketAddress addr, Path local) {
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new CommException("rendezvous", rank, q, "rank " + q + " at " + addr
                        + " did not accept a connection within " + config.timeout().toMillis() + " ms");
            }
            long connectMillis = Math.max(1, Math.min(left / 1_000_000, 5_000));
            // checked each try: the file appears once q listens, and TCP is the answer until then
            boolean hadFile = local != null && Files.exists(local);
            if (hadFile && connectLocally(q, local, connectMillis)) {
                return;
            }
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open();
                ch.socket().connect(addr, (int) connectMillis);
                if (!hadFile && local != null && Files.exists(local)) {
                    // q began listening between our check and connect: take the faster path
                    closeQuietly(ch);
                    continue;
                }
                configure(ch, false);
                Handshake.Peer peer = handshake.connect(ch, rank, q, deadline);
                join(q, ch, peer);
                return;
            } catch (ConnectException | java.net.SocketTimeoutException e) {
                closeQuietly(ch);
                sleep(20);
            } catch (IOException e) {
                closeQuietly(ch);
                throw new CommException("rendezvous", rank, q, "handshake with rank " + q + " at "
                        + addr + " failed: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Tries q's Unix socket; false (TCP next) if it cannot be reached or does not answer as q,
     * e.g. a stale file of a killed job.
     */
    private boolean connectLocally(int q, Path path, long connectMillis) {
        SocketChannel ch = null;
        try {
            ch = LocalSockets.connect(path, connectMillis);
            configure(ch, true);
            Handshake.Peer peer = handshake.connect(ch, rank, q, deadline);
            join(q, ch, peer);
            LOG.debug("rank {} reached rank {} over {}", rank, q, path);
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            closeQuietly(ch);
            LOG.debug("rank {} cannot use {} for rank {}, trying TCP: {}", rank, path, q, e.toString());
            return false;
        }
    }

    private void join(int q, SocketChannel ch, Handshake.Peer peer) {
        synchronized (channels) {
            channels[q] = ch;
            jvmIds[q] = peer.jvmId;
        }
    }

    private void acceptLoop(ServerSocketChannel server) {
        while (server.isOpen()) {
            // A connection is accepted only with a free handshake slot; until then it waits in the backlog.
            try {
                if (!handshakeSlots.tryAcquire(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                    continue;
                }
            } catch (InterruptedException e) {
                return;
            }
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                handshakeSlots.release();
                return; // closed once the mesh is complete or rendezvous failed
            }
            Thread t = new Thread(() -> {
                try {
                    admit(ch);
                } finally {
                    handshakeSlots.release();
                }
            }, "omnispark-comm-handshake-" + rank);
            t.setDaemon(true);
            t.start();
        }
    }

    private void admit(SocketChannel ch) {
        String from = "?";
        try {
            boolean unix = ch.getRemoteAddress() instanceof UnixDomainSocketAddress;
            from = unix ? "a local unix socket" : String.valueOf(ch.getRemoteAddress());
            configure(ch, unix);
            long until = Math.min(deadline, System.nanoTime()
                    + Math.min(HANDSHAKE_TIMEOUT_NANOS, config.timeout().toNanos() / 4));
            Handshake.Peer peer = handshake.accept(ch, rank, until);
            synchronized (channels) {
                if (peer.rank <= rank || peer.rank >= world || channels[peer.rank] != null) {
                    throw new IOException("authenticated peer claims rank " + peer.rank
                            + ", which is not expected to connect to rank " + rank);
                }
                Handshake.admit(ch, until);
                channels[peer.rank] = ch;
                jvmIds[peer.rank] = peer.jvmId;
                channels.notifyAll();
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("rank {} refused connection from {}: {}", rank, from, e.getMessage());
            closeQuietly(ch);
        }
    }

    private void awaitAccepted() {
        synchronized (channels) {
            while (true) {
                int missing = -1;
                for (int q = rank + 1; q < world; q++) {
                    if (channels[q] == null) {
                        missing = q;
                        break;
                    }
                }
                if (missing < 0) {
                    return;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new CommException("rendezvous", rank, missing, "rank " + missing
                            + " did not connect within " + config.timeout().toMillis() + " ms");
                }
                try {
                    channels.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CommException("rendezvous", rank, missing, "interrupted", e);
                }
            }
        }
    }

    private void configure(SocketChannel ch, boolean unix) throws IOException {
        if (unix) {
            // Unix sockets did best with 1 MiB (64 MiB all-reduce, 4 ranks: ~10-15% faster than
            // 4 MiB or the default): a few 256 KiB chunks in flight that still fit in cache.
            ch.setOption(StandardSocketOptions.SO_SNDBUF, 1 << 20);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
        } else {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true); // Unix sockets have no Nagle
            congestion.apply(ch);
            // TCP buffers are left to the kernel's autotuning (up to net.ipv4.tcp_[rw]mem's
            // maximum): a fixed size turns it off and is capped by net.core.[rw]mem_max, 208 KiB
            // on stock kernels. With Reno, autotuned loopback links were as fast as or faster
            // than fixed 4 MiB ones here (64 MiB, 4 ranks, 5 alternating runs: all-reduce 141 vs
            // 143 ms, all-to-all 52 vs 59, reduce-scatter 79 vs 83, all-gather 65 vs 60).
        }
        ch.configureBlocking(false);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void closeQuietly(java.io.Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }
}
