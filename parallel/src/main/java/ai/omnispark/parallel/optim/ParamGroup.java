package ai.omnispark.parallel.optim;

import java.util.function.Predicate;

/**
 * Units that train with their own learning-rate scale and weight decay (e.g. LoRA adapters with
 * {@code train.lora_lr}). An optimizer given several groups uses the first whose predicate matches a
 * unit; units no group matches use the optimizer's defaults (scale 1, its configured decay).
 *
 * @param unitMatches tested against unit names (the optimizer's state keys)
 * @param lrScale multiplies the scheduled learning rate for the group's units
 * @param weightDecay the group's decoupled weight decay, replacing the default
 */
public record ParamGroup(String name, Predicate<String> unitMatches, double lrScale, double weightDecay) {
    public ParamGroup {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a parameter group needs a name");
        }
        if (unitMatches == null) {
            throw new IllegalArgumentException("parameter group " + name + " needs a unit predicate");
        }
        if (!(lrScale >= 0) || Double.isInfinite(lrScale)) {
            throw new IllegalArgumentException("parameter group " + name + ": lrScale must be a finite number >= 0, got "
                    + lrScale);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("parameter group " + name
                    + ": weightDecay must be a finite number >= 0, got " + weightDecay);
        }
    }
}
