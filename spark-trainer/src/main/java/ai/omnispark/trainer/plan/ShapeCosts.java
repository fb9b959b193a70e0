package ai.omnispark.trainer.plan;

/**
 * Measured costs of one rank's micro-batch, per shape: rows × tokens a rank holds of each row
 * (seq / sp under Ulysses) × recompute policy. An {@code roi} policy plugs in here with the bytes
 * its calibration keeps at its budget.
 */
@FunctionalInterface
public interface ShapeCosts {
    /**
     * @param activationBytes what the micro-batch's forward keeps for its backward, measured
     * @param stepMs a training step of that one micro-batch on one rank alone on this machine
     */
    record Cost(long activationBytes, double stepMs) {}

    Cost cost(int microBatch, int tokensPerRow, RecomputePolicy policy);
}
