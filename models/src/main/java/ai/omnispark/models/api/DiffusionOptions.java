package ai.omnispark.models.api;

import java.util.Locale;

/**
 * The training settings of a diffusion family's flow-matching objective (train.flow_shift,
 * train.timestep_weighting, train.text_dropout); families without one ignore them.
 *
 * @param flowShift the shift s of the sigma schedule, sigma' = s sigma / (1 + (s - 1) sigma); > 0
 * @param timestepWeighting "none" (every sample weighs 1) or "gaussian" (weights peaked at t = 500)
 * @param textDropout the probability in [0, 1) that a sample's text embedding is replaced by the empty prompt's
 */
public record DiffusionOptions(double flowShift, String timestepWeighting, double textDropout) {
    public static final String NONE = "none";
    public static final String GAUSSIAN = "gaussian";

    public DiffusionOptions {
        if (!(flowShift > 0) || Double.isInfinite(flowShift)) {
            throw new IllegalArgumentException("train.flow_shift must be a finite number > 0, got " + flowShift);
        }
        timestepWeighting = timestepWeighting == null ? NONE : timestepWeighting.toLowerCase(Locale.ROOT);
        if (!timestepWeighting.equals(NONE) && !timestepWeighting.equals(GAUSSIAN)) {
            throw new IllegalArgumentException("train.timestep_weighting must be none or gaussian, got '"
                    + timestepWeighting + "'");
        }
        if (!(textDropout >= 0 && textDropout < 1)) {
            throw new IllegalArgumentException("train.text_dropout must be in [0, 1), got " + textDropout);
        }
    }

    /** Shift 5.0, no timestep weighting, text dropout 0.1 (VeOmni's Wan recipe). */
    public static DiffusionOptions defaults() {
        return new DiffusionOptions(5.0, NONE, 0.1);
    }
}
