package ai.omnispark.models.vlm;

import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamily;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/** Vision-language models: HF model_type qwen2_vl (Qwen2VLForConditionalGeneration). */
public final class Qwen2VlFamily implements ModelFamily {
    /** Packed token rows whose documents carry images or video frames. */
    static final Set<SampleLayout> SAMPLE_LAYOUTS = Set.of(SampleLayout.TOKENS_WITH_MEDIA);

    @Override
    public String name() {
        return "vlm";
    }

    @Override
    public boolean accepts(JsonNode hfConfig) {
        return Qwen2VlConfig.MODEL_TYPE.equals(hfConfig.path("model_type").asText(""));
    }

    @Override
    public String accepted() {
        return "model_type " + Qwen2VlConfig.MODEL_TYPE;
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return SAMPLE_LAYOUTS;
    }

    @Override
    public Model build(JsonNode hfConfig, ModelOptions options) {
        return new Qwen2VlModel(Qwen2VlConfigJson.parse(hfConfig), AttentionImpl.parse(options.attentionImpl()),
                Attention.DEFAULT_BLOCK, options.lossChunkTokens(), options.frozen(),
                options.lora());
    }
}
