package ai.omnispark.trainer.loop;

/** Receives each finished step (metrics files, progress lines, the driver's progress socket). */
@FunctionalInterface
public interface StepListener {
    void onStep(StepResult result, long totalSteps);
}
