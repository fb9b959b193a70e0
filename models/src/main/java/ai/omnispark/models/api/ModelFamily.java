package ai.omnispark.models.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A kind of model (a decoder LM, a vision-language model, a diffusion transformer) that OmniSpark
 * can train. Families register through {@link java.util.ServiceLoader} in
 * {@code META-INF/services/ai.omnispark.models.api.ModelFamily}; {@link ModelFamilies} picks the one
 * that accepts a HF {@code config.json}, so nothing outside the family names its classes.
 */
public interface ModelFamily {
    /** Short name for messages and the run record, e.g. "llm". */
    String name();

    /** Whether {@code hfConfig} (a parsed config.json) describes a model of this family, by model_type or _class_name. */
    boolean accepts(JsonNode hfConfig);

    /** What {@link #accepts} takes, for messages: e.g. "model_type llama, qwen2 or qwen3". */
    String accepted();

    /**
     * The sample layouts this family's collator takes, so a run pointed at other data fails on the
     * driver, before any rank starts, without building a model.
     */
    java.util.Set<SampleLayout> sampleLayouts();

    /**
     * Builds the model {@code hfConfig} describes; a config this family accepts but cannot build fails
     * with an {@link IllegalArgumentException} naming the bad key.
     */
    Model build(JsonNode hfConfig, ModelOptions options);
}
