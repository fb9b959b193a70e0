package ai.omnispark.trainer.loop;

import java.util.Map;

/**
 * What one optimizer step did.
 *
 * @param loss the sum of {@code lossTerms}
 * @param lossTerms the objective's named terms (e.g. "ce"), each normalised like the loss; in a stable order
 * @param metrics the model's own fields of the step (e.g. a MoE's {@code aux_loss} and tokens per
 *     expert, {@link ai.omnispark.models.api.ModelMetrics}); in a stable order
 */
public record StepResult(long step, double loss, double lr, double gradNorm, long tokens, double stepMs,
        double dataWaitMs, Map<String, Double> lossTerms, Map<String, Double> metrics) {
    public StepResult {
        lossTerms = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(lossTerms));
        metrics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metrics));
    }

    /** A step without model metrics. */
    public StepResult(long step, double loss, double lr, double gradNorm, long tokens, double stepMs,
            double dataWaitMs, Map<String, Double> lossTerms) {
        this(step, loss, lr, gradNorm, tokens, stepMs, dataWaitMs, lossTerms, Map.of());
    }

    /** A step whose loss has no named terms (e.g. relayed by a driver that only saw the total). */
    public StepResult(long step, double loss, double lr, double gradNorm, long tokens, double stepMs,
            double dataWaitMs) {
        this(step, loss, lr, gradNorm, tokens, stepMs, dataWaitMs, Map.of());
    }

    public double tokensPerSecond() {
        return stepMs > 0 ? tokens / (stepMs / 1000.0) : 0;
    }
}
