package ai.omnispark.parallel.comm;

/**
 * A collective failed: a peer died, closed, stopped answering within the timeout, sent something
 * unexpected, or the communicator was closed. The message names the op, the local rank and the
 * peer rank (-1 where no single peer is to blame).
 */
public class CommException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String op;
    private final int rank;
    private final int peer;

    public CommException(String op, int rank, int peer, String detail) {
        this(op, rank, peer, detail, null);
    }

    public CommException(String op, int rank, int peer, String detail, Throwable cause) {
        super(op + " failed on rank " + rank + (peer >= 0 ? " (peer rank " + peer + ")" : "")
                + ": " + detail, cause);
        this.op = op;
        this.rank = rank;
        this.peer = peer;
    }

    public String op() {
        return op;
    }

    public int rank() {
        return rank;
    }

    /** The peer rank involved, or -1. */
    public int peer() {
        return peer;
    }
}
