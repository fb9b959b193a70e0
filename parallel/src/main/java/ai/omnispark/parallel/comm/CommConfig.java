package ai.omnispark.parallel.comm;

import java.time.Duration;
import java.util.List;

/** What a rank needs to join a communicator: who it is, where its peers are, and the job secret. */
public final class CommConfig {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(600);
    /** 256 KiB measured best for 64 MiB rings on loopback (vs 64 KiB, 1 MiB, 4 MiB). */
    public static final int DEFAULT_CHUNK_BYTES = 256 << 10;

    private final int rank;
    private final int worldSize;
    private final List<String> peers;
    private final byte[] secret;
    private final Duration timeout;
    private final Transport transport;
    private final int chunkBytes;
    private final boolean localSockets;
    private final String tcpCongestion;
    private final int attempt;

    private CommConfig(Builder b) {
        this.rank = b.rank;
        this.worldSize = b.worldSize;
        this.peers = List.copyOf(b.peers);
        this.secret = b.secret.clone();
        this.timeout = b.timeout;
        this.transport = b.transport;
        this.chunkBytes = b.chunkBytes;
        this.localSockets = b.localSockets;
        this.tcpCongestion = b.tcpCongestion;
        this.attempt = b.attempt;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Whether {@link Builder#tcpCongestion} would take {@code setting}. */
    public static boolean isValidTcpCongestion(String setting) {
        return TcpCongestion.isValidSetting(setting);
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    /** host:port of every rank, indexed by rank; rank r listens on peers().get(r). */
    public List<String> peers() {
        return peers;
    }

    public byte[] secret() {
        return secret.clone();
    }

    /** The longest any blocking wait may last before the op fails. */
    public Duration timeout() {
        return timeout;
    }

    public Transport transport() {
        return transport;
    }

    /** Pipelining granularity of the TCP ring collectives. */
    public int chunkBytes() {
        return chunkBytes;
    }

    /**
     * Whether sockets to ranks on this host may be Unix domain sockets instead of loopback TCP
     * (see {@link LocalSockets}); false forces TCP everywhere.
     */
    public boolean localSockets() {
        return localSockets;
    }

    /**
     * TCP congestion control of the links: {@code auto} (Reno on links to this host, the system's
     * elsewhere; see {@link TcpCongestion}), {@code system}, or an algorithm for every TCP link.
     */
    public String tcpCongestion() {
        return tcpCongestion;
    }

    /**
     * The launch attempt of the job this rank belongs to; peers must be of the same attempt (the
     * handshake carries and authenticates it), so a straggler of a failed attempt cannot join the next.
     */
    public int attempt() {
        return attempt;
    }

    public static final class Builder {
        private int rank = -1;
        private int worldSize = -1;
        private List<String> peers = List.of();
        private byte[] secret;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Transport transport = Transport.AUTO;
        private int chunkBytes = DEFAULT_CHUNK_BYTES;
        private boolean localSockets = true;
        private String tcpCongestion = TcpCongestion.AUTO;
        private int attempt;

        public Builder rank(int rank) {
            this.rank = rank;
            return this;
        }

        public Builder worldSize(int worldSize) {
            this.worldSize = worldSize;
            return this;
        }

        public Builder peers(List<String> peers) {
            this.peers = List.copyOf(peers);
            return this;
        }

        public Builder secret(byte[] secret) {
            this.secret = secret.clone();
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        public Builder chunkBytes(int chunkBytes) {
            this.chunkBytes = chunkBytes;
            return this;
        }

        /** Default true; false keeps same-host links on TCP (for comparisons and odd setups). */
        public Builder localSockets(boolean localSockets) {
            this.localSockets = localSockets;
            return this;
        }

        /** auto (default), system, or an algorithm name such as reno, cubic or bbr. */
        public Builder tcpCongestion(String tcpCongestion) {
            this.tcpCongestion = tcpCongestion;
            return this;
        }

        /** Default 0; see {@link CommConfig#attempt()}. */
        public Builder attempt(int attempt) {
            this.attempt = attempt;
            return this;
        }

        public CommConfig build() {
            if (worldSize < 1) {
                throw new IllegalArgumentException("worldSize must be >= 1, got " + worldSize);
            }
            if (rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException(
                        "rank must be in [0, " + worldSize + "), got " + rank);
            }
            if (attempt < 0) {
                throw new IllegalArgumentException("attempt must be >= 0, got " + attempt);
            }
            if (secret == null || secret.length == 0) {
                throw new IllegalArgumentException("a non-empty job secret is required");
            }
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            }
            if (transport == null) {
                throw new IllegalArgumentException("transport must not be null");
            }
            if (chunkBytes < 16) {
                throw new IllegalArgumentException("chunkBytes must be >= 16, got " + chunkBytes);
            }
            if (!isValidTcpCongestion(tcpCongestion)) {
                throw new IllegalArgumentException("tcpCongestion must be auto, system or an "
                        + "algorithm name such as reno or cubic, got '" + tcpCongestion + "'");
            }
            if (transport != Transport.IN_PROCESS && peers.size() != worldSize) {
                throw new IllegalArgumentException("transport " + transport + " needs "
                        + worldSize + " peer addresses, got " + peers.size() + ": " + peers);
            }
            if (!peers.isEmpty() && peers.size() != worldSize) {
                throw new IllegalArgumentException(
                        "expected " + worldSize + " peer addresses, got " + peers.size());
            }
            return new CommConfig(this);
        }
    }

    @Override
    public String toString() {
        return "CommConfig{rank=" + rank + ", worldSize=" + worldSize + ", peers=" + peers
                + ", secret=<" + secret.length + " bytes>, timeout=" + timeout + ", transport="
                + transport + ", chunkBytes=" + chunkBytes + ", localSockets=" + localSockets
                + ", tcpCongestion=" + tcpCongestion + ", attempt=" + attempt + "}";
    }
}
