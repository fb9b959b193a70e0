package ai.omnispark.trainer.job;

import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;

/**
 * Running totals of the steps a run reported: first and last loss, tokens, step and data-wait
 * time. A rank keeps one for its own steps; the driver keeps one across relaunched attempts.
 */
public final class RunStats implements StepListener {
    private long steps;
    private long lastStep;
    private double initialLoss = Double.NaN;
    private double finalLoss = Double.NaN;
    private long tokens;
    private double stepMs;
    private double dataWaitMs;

    public synchronized void add(StepResult r) {
        if (steps == 0) {
            initialLoss = r.loss();
        }
        steps++;
        lastStep = r.step();
        finalLoss = r.loss();
        tokens += r.tokens();
        stepMs += r.stepMs();
        dataWaitMs += r.dataWaitMs();
    }

    @Override
    public void onStep(StepResult result, long totalSteps) {
        add(result);
    }

    public synchronized boolean isEmpty() {
        return steps == 0;
    }

    public synchronized double initialLoss() {
        return initialLoss;
    }

    public synchronized double tokensPerSecond() {
        return stepMs > 0 ? tokens / (stepMs / 1000) : 0;
    }

    public synchronized double dataWaitFraction() {
        return stepMs > 0 ? dataWaitMs / stepMs : 0;
    }

    public synchronized TrainSummary summary(String outputDir, String hfDir, String adapterDir, int worldSize,
            int restarts) {
        return new TrainSummary(lastStep, initialLoss, finalLoss, tokensPerSecond(), dataWaitFraction(), outputDir,
                hfDir, adapterDir, worldSize, restarts);
    }
}
