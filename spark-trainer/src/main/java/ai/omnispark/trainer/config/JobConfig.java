package ai.omnispark.trainer.config;

/**
 * A job's whole configuration, one typed record per section, each parsed (and its values checked)
 * by its own record from the flat {@link Settings}. Cheap to build: a rank builds its own from the
 * Settings it was shipped.
 */
public record JobConfig(ModelSection model, DataSection data, TrainSection train, DebugSection debug) {

    public static JobConfig from(Settings s) {
        return new JobConfig(ModelSection.parse(s), DataSection.parse(s), TrainSection.parse(s),
                DebugSection.parse(s));
    }
}
