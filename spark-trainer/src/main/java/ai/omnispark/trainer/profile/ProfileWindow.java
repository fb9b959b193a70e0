package ai.omnispark.trainer.profile;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.TrainSection;

/**
 * Which steps {@code train.enable_profiling} records: recording starts once
 * {@code train.profile_start_step} steps are done and stops after step
 * {@code train.profile_end_step}, so it covers steps start + 1 … end as metrics.jsonl numbers them
 * (end − start steps; VeOmni's schedule: the steps before are warm-up).
 */
public record ProfileWindow(boolean enabled, long startStep, long endStep) {
    public static ProfileWindow from(TrainSection train) {
        boolean enabled = train.enableProfiling();
        long start = train.profileStartStep();
        long end = train.profileEndStep();
        if (enabled && start < 0) {
            throw new ConfigException("train.profile_start_step must be >= 0 (steps done before recording starts), got "
                    + start);
        }
        if (enabled && end <= start) {
            throw new ConfigException("train.profile_end_step (" + end + ") must be greater than "
                    + "train.profile_start_step (" + start + "): the profile records steps start + 1 to end");
        }
        return new ProfileWindow(enabled, start, end);
    }

    /** True when the step after {@code completedSteps} is one to record. */
    public boolean records(long completedSteps) {
        return enabled && completedSteps >= startStep && completedSteps < endStep;
    }

    @Override
    public String toString() {
        return endStep == startStep + 1 ? "step " + endStep : "steps " + (startStep + 1) + " to " + endStep;
    }
}
