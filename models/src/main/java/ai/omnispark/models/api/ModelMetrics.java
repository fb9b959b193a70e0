package ai.omnispark.models.api;

import java.util.Map;

/**
 * Numbers a model's segments record on one rank while they run, beyond the loss (e.g. how many
 * tokens a MoE router sent to each expert), turned into named metric fields: metrics.jsonl of a
 * training step, the output of {@code score}. A model instance (one per rank) owns one, and only
 * that rank's thread uses it.
 *
 * <p>What a segment records is keyed by the micro-batch it ran on, so a segment the engine runs
 * again in backward (recompute) replaces its values for that micro-batch instead of adding them.
 */
public interface ModelMetrics {
    /** Records nothing and has no fields. */
    ModelMetrics NONE = new ModelMetrics() {
        @Override
        public void clear() {}

        @Override
        public double[] sums() {
            return new double[0];
        }

        @Override
        public Map<String, Double> fields(double[] globalSums, Map<String, Double> lossTerms) {
            return Map.of();
        }
    };

    /** Forgets everything recorded (the trainer calls it before each step). */
    void clear();

    /**
     * This rank's totals since {@link #clear}, in a fixed layout, each additive over micro-batches
     * and ranks: the trainer sums them element-wise over every rank before {@link #fields}.
     */
    double[] sums();

    /**
     * The metric fields, in a stable order.
     *
     * @param globalSums {@link #sums} added over every rank (on one rank: this rank's)
     * @param lossTerms the step's loss terms as the trainer normalised them (e.g. "ce", "aux"), or
     *     empty for a forward outside training (scoring)
     */
    Map<String, Double> fields(double[] globalSums, Map<String, Double> lossTerms);
}
