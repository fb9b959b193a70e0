package ai.omnispark.trainer.spark;

/**
 * A rank's own failure, as its barrier task throws it and as the driver reports it: the rank, the
 * world, the attempt and the original exception's class and message. A failure caused by a peer's
 * (a collective that found its peer gone) is thrown as a
 * {@link ai.omnispark.parallel.comm.CommException} instead, so the driver can tell the two apart
 * (see {@link AttemptTasks#rootFailure}).
 */
public final class RankFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RankFailure(int rank, int world, int attempt, Throwable cause) {
        super("rank " + rank + " of " + world + " (attempt " + (attempt + 1) + "): " + cause, cause);
    }

    /** The driver's copy, rebuilt from the task's failure report. */
    RankFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
