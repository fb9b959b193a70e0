package ai.omnispark.trainer.plan;

/** Predicts a candidate's per-rank memory and step time. */
@FunctionalInterface
public interface CostModel {
    Estimate estimate(PlanCandidate candidate);
}
