package ai.omnispark.models.wan;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamily;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.attention.AttentionImpl;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/** Video diffusion transformers: diffusers _class_name WanTransformer3DModel (Wan 2.1 T2V and I2V). */
public final class WanFamily implements ModelFamily {
    public static final String NAME = "wan";
    static final Set<SampleLayout> SAMPLE_LAYOUTS = Set.of(SampleLayout.LATENTS);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean accepts(JsonNode hfConfig) {
        return WanConfig.CLASS_NAME.equals(hfConfig.path("_class_name").asText(""));
    }

    @Override
    public String accepted() {
        return "_class_name " + WanConfig.CLASS_NAME;
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return SAMPLE_LAYOUTS;
    }

    @Override
    public Model build(JsonNode hfConfig, ModelOptions options) {
        if (options.frozen().any()) {
            throw new IllegalArgumentException("model.freeze_* settings are for vision-language models; the wan family "
                    + "has no vision tower, merger or language model to freeze (frozen: " + options.frozen().describe()
                    + ")");
        }
        return new WanModel(WanConfigJson.parse(hfConfig), AttentionImpl.parse(options.attentionImpl()),
                options.diffusion(), options.lora());
    }
}
