package ai.omnispark.trainer.config;

/** {@code train.parallel_plan}: the parallel keys as written, or the planner's choice at launch (docs/plan.md). */
public enum PlanChoice {
    MANUAL,
    AUTO;

    static PlanChoice parse(String name) {
        return switch (name) {
            case "manual" -> MANUAL;
            case "auto" -> AUTO;
            default -> throw new ConfigException("train.parallel_plan must be manual or auto, got '" + name + "'");
        };
    }
}
