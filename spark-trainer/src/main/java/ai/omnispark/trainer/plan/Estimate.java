package ai.omnispark.trainer.plan;

/**
 * A candidate's predicted cost on one rank.
 *
 * @param activationBytes what a micro-batch's forward keeps for its backward
 * @param gatherBytes transient full weights and gradient of the largest unit under FSDP sharding
 * @param computeMs forward + backward + optimizer time of the step's micro-batches
 * @param commMs communication time the step cannot hide behind compute
 * @param tokensPerStep tokens of one optimizer step over all ranks
 */
public record Estimate(PlanCandidate candidate, StateMemory state, long activationBytes, long gatherBytes,
        double computeMs, double commMs, long tokensPerStep) {

    public long memoryBytes() {
        return state.totalBytes() + activationBytes + gatherBytes;
    }

    public double stepMs() {
        return computeMs + commMs;
    }

    public double tokensPerSecondPerRank() {
        return tokensPerStep / (stepMs() / 1000.0) / candidate.world();
    }
}
