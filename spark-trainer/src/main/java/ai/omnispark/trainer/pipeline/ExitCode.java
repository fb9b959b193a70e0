package ai.omnispark.trainer.pipeline;

/**
 * What {@code bin/omnispark pipeline} (and {@code prepare}) exit with, so a scheduler can tell a
 * job to fix from one to retry. docs/pipelines.md lists them; 1 stays Main's "unexpected error".
 */
public enum ExitCode {
    /** Everything ran, or there was nothing to do. */
    SUCCESS(0),
    /** The configuration cannot run (a bad key or value, an output directory owned by another run). */
    CONFIG_ERROR(2),
    /** The prepare step rejected more than {@code data.max_reject_ratio} of the records. */
    DATA_REJECTED(3),
    /** Training failed on its last attempt ({@code train.max_restarts} relaunches were used up). */
    TRAINING_FAILED(4),
    /** A failure a later retry may not see: storage or a host unreachable, a Spark job lost outside training. */
    RETRYABLE(5);

    private final int code;

    ExitCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
