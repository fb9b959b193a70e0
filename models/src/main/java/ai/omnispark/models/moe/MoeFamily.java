package ai.omnispark.models.moe;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamily;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.decoder.DecoderModel;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/** Mixture-of-experts decoders: HF model_type qwen3_moe (Qwen3MoeForCausalLM) and qwen2_moe (Qwen2MoeForCausalLM). */
public final class MoeFamily implements ModelFamily {
    @Override
    public String name() {
        return "moe";
    }

    @Override
    public boolean accepts(JsonNode hfConfig) {
        return MoeConfig.MODEL_TYPES.contains(hfConfig.path("model_type").asText(""));
    }

    @Override
    public String accepted() {
        return "model_type qwen3_moe or qwen2_moe";
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return DecoderModel.SAMPLE_LAYOUTS;
    }

    @Override
    public Model build(JsonNode hfConfig, ModelOptions options) {
        options.frozen().refuseFor(hfConfig.path("model_type").asText());
        if (options.lora() != null) {
            throw new IllegalArgumentException("model.lora_config is not supported for " + hfConfig.path("model_type").asText()
                    + " models yet; remove it or train a dense model");
        }
        return new MoeLM(MoeConfigJson.parse(hfConfig), AttentionImpl.parse(options.attentionImpl()),
                Attention.DEFAULT_BLOCK, options.lossChunkTokens());
    }
}
