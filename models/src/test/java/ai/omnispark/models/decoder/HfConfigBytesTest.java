package ai.omnispark.models.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exported config.json and generation_config.json of a tiny model of every decoder family
 * variant, byte for byte against files written by the code before the decoder families shared their
 * config code (commit f38d97e): the refactor must not change what export writes. Running with
 * {@code -Dhfconfig.golden.dir=<dir>} writes the files there instead of comparing.
 */
class HfConfigBytesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"llama", "llama_bias", "qwen2", "qwen2_dropout", "qwen3", "qwen3_moe", "qwen2_moe"})
    void exportedConfigBytesAreUnchanged(String variant) throws IOException {
        try (Model model = ModelFamilies.build(config(variant), ModelOptions.defaults())) {
            String config = model.hfConfig("float32").toPrettyString();
            String generation = model.generationConfig().toPrettyString();
            String dir = System.getProperty("hfconfig.golden.dir");
            if (dir != null) {
                Files.writeString(Path.of(dir, variant + ".config.json"), config);
                Files.writeString(Path.of(dir, variant + ".generation_config.json"), generation);
                return;
            }
            assertEquals(golden(variant + ".config.json"), config, variant + " config.json");
            assertEquals(golden(variant + ".generation_config.json"), generation, variant + " generation_config.json");
        }
    }

    private static String golden(String name) throws IOException {
        try (InputStream in = HfConfigBytesTest.class.getResourceAsStream("/hf-config/" + name)) {
            assertNotNull(in, "missing golden file hf-config/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Non-default values in every shared field, so a key written from the wrong field shows. */
    private static ObjectNode config(String variant) {
        ObjectNode o = JSON.createObjectNode();
        String type = variant.contains("_moe") ? variant : variant.replace("_bias", "").replace("_dropout", "");
        o.put("model_type", type);
        o.put("vocab_size", 13);
        o.put("hidden_size", 8);
        o.put("intermediate_size", 12);
        o.put("num_hidden_layers", 3);
        o.put("num_attention_heads", 2);
        o.put("num_key_value_heads", 1);
        o.put("head_dim", 4);
        o.put("rms_norm_eps", 1e-5);
        o.put("rope_theta", 500.0);
        o.put("max_position_embeddings", 64);
        o.put("initializer_range", 0.05);
        o.put("tie_word_embeddings", variant.equals("qwen3") || variant.equals("qwen2_moe"));
        o.put("bos_token_id", 1);
        o.putArray("eos_token_id").add(2).add(3);
        if (variant.equals("llama_bias") || variant.equals("qwen3_moe")) {
            o.put("attention_bias", true);
        }
        if (variant.equals("qwen2_dropout")) {
            o.put("attention_dropout", 0.25);
        }
        if (variant.equals("qwen3_moe")) {
            o.remove("bos_token_id");
        }
        if (variant.contains("_moe")) {
            o.put("num_experts", 4);
            o.put("num_experts_per_tok", 2);
            o.put("moe_intermediate_size", 6);
            o.putArray("mlp_only_layers").add(1);
            o.put("router_aux_loss_coef", 0.01);
        }
        if (variant.equals("qwen2_moe")) {
            o.put("shared_expert_intermediate_size", 5);
            o.put("qkv_bias", false);
        }
        return o;
    }
}
