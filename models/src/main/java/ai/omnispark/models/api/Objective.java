package ai.omnispark.models.api;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;
import java.util.Map;

/**
 * A family's training loss. The training segments output unnormalised sums (e.g. summed token
 * cross-entropy); the loss of a step is their sum over the global batch divided by the global
 * normaliser count, so it does not depend on how the batch is split over ranks and micro-batches.
 * Auxiliary terms (a MoE load-balancing loss) join as more named terms, without the trainer changing.
 */
public interface Objective {
    /** What the loss is averaged over, e.g. "tokens" or "samples". */
    String normaliser();

    /** This rank's share of the normaliser in {@code samples}; the trainer sums it over data-parallel ranks. */
    long normaliserCount(List<Sample> samples);

    /** Gradient seeds of the training segments' final outputs when the global normaliser is {@code globalCount}. */
    NDList seeds(NDManager scope, long globalCount, DataType dtype);

    /**
     * The named loss terms of one micro-batch, unnormalised, from the training segments' final
     * outputs: e.g. {"ce": summed cross-entropy}. Iteration order is stable.
     */
    Map<String, Double> lossTerms(NDList outputs);
}
