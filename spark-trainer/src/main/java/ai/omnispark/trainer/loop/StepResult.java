package ai.omnispark.trainer.loop;

/** What one optimizer step did. */
public record StepResult(long step, double loss, double lr, double gradNorm, long tokens, double stepMs,
        double dataWaitMs) {
    public double tokensPerSecond() {
        return stepMs > 0 ? tokens / (stepMs / 1000.0) : 0;
    }
}
