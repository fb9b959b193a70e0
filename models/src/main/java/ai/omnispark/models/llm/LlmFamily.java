package ai.omnispark.models.llm;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamily;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.decoder.DecoderModel;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/** Decoder-only LMs of the Llama family: HF model_type llama, qwen2 and qwen3. */
public final class LlmFamily implements ModelFamily {
    private static final Set<String> MODEL_TYPES = Set.of("llama", "qwen2", "qwen3");

    @Override
    public String name() {
        return "llm";
    }

    @Override
    public boolean accepts(JsonNode hfConfig) {
        return MODEL_TYPES.contains(hfConfig.path("model_type").asText(""));
    }

    @Override
    public String accepted() {
        return "model_type llama, qwen2 or qwen3";
    }

    @Override
    public java.util.Set<ai.omnispark.models.api.SampleLayout> sampleLayouts() {
        return DecoderModel.SAMPLE_LAYOUTS;
    }

    @Override
    public Model build(JsonNode hfConfig, ModelOptions options) {
        options.frozen().refuseFor(hfConfig.path("model_type").asText());
        return new DecoderLM(DecoderConfigJson.parse(hfConfig), AttentionImpl.parse(options.attentionImpl()),
                Attention.DEFAULT_BLOCK, options.lossChunkTokens(), options.lora());
    }
}
