package ai.omnispark.trainer.plan;

/**
 * The recompute policies the planner weighs. {@code roi} (selective recompute, issue 18 items 1/2)
 * joins here once its calibration reports the activation bytes it keeps at a budget: the planner
 * only needs that policy's measured bytes and step time per micro-batch shape ({@link ShapeCosts}).
 */
public enum RecomputePolicy {
    /** Every activation kept from forward to backward. */
    NONE,
    /** Every attention and MLP segment drops its activations and re-runs in backward (train.enable_gradient_checkpointing). */
    BLOCK;

    /** Whether the trainer's {@code train.enable_gradient_checkpointing} is on for this policy. */
    public boolean gradientCheckpointing() {
        return this == BLOCK;
    }

    public String label() {
        return name().toLowerCase();
    }
}
