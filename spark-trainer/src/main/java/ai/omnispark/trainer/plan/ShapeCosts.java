package ai.omnispark.trainer.plan;

/**
 * Measured costs of one rank's micro-batch, per shape: rows × the sp and ep sizes the rank runs
 * with × recompute policy, on the planned world's ranks (world / (sp × ep) groups side by side). An
 * {@code roi} policy plugs in here with the bytes its calibration keeps at its budget.
 */
@FunctionalInterface
public interface ShapeCosts {
    /**
     * @param activationBytes what the micro-batch's forward keeps for its backward, per rank, measured
     *     (on several ranks it holds the gathered weights the graph keeps, as the plan's ranks will)
     * @param stepMs a training step of that one micro-batch on every rank of the planned world, on this machine
     * @param ranks the ranks the measurement ran
     */
    record Cost(long activationBytes, double stepMs, int ranks) {}

    Cost cost(int microBatch, int sp, int ep, RecomputePolicy policy);
}
