package ai.omnispark.models.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Choosing a family from a config.json through the ServiceLoader registry. */
class ModelFamiliesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theLlmMoeVlmAndWanFamiliesAreRegisteredAndTakeTheirModelTypes() throws IOException {
        List<String> names = ModelFamilies.registered().stream().map(ModelFamily::name).toList();
        assertEquals(List.of("llm", "moe", "vlm", "wan"), names);
        assertEquals("wan", ModelFamilies.forConfig(JSON.readTree("{\"_class_name\": \"WanTransformer3DModel\"}"))
                .name());
        assertEquals("vlm", ModelFamilies.forConfig(JSON.readTree("{\"model_type\": \"qwen2_vl\"}")).name());
        for (String type : List.of("llama", "qwen2", "qwen3")) {
            JsonNode config = JSON.readTree("{\"model_type\": \"" + type + "\"}");
            assertEquals("llm", ModelFamilies.forConfig(config).name(), type);
        }
        for (String type : List.of("qwen3_moe", "qwen2_moe")) {
            JsonNode config = JSON.readTree("{\"model_type\": \"" + type + "\"}");
            assertEquals("moe", ModelFamilies.forConfig(config).name(), type);
        }
    }

    @Test
    void anUnknownModelTypeIsNamedWithTheRegisteredFamilies() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelFamilies.forConfig(JSON.readTree("{\"model_type\": \"mamba\"}")));
        assertEquals("model_type 'mamba' is not supported; registered model families: llm (model_type llama, qwen2 "
                + "or qwen3), moe (model_type qwen3_moe or qwen2_moe), vlm (model_type qwen2_vl), wan (_class_name "
                + "WanTransformer3DModel)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ModelFamilies.forConfig(JSON.readTree("{\"_class_name\": \"UNet2DConditionModel\"}")));
        assertTrue(e.getMessage().startsWith("_class_name 'UNet2DConditionModel' is not supported"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelFamilies.forConfig(JSON.readTree("{}")));
        assertTrue(e.getMessage().startsWith("a config without model_type or _class_name"), e.getMessage());
    }

    @Test
    void readConfigTakesAFileOrAFolderAndNamesWhatIsMissing(@TempDir Path tmp) throws IOException {
        Path file = tmp.resolve("config.json");
        Files.writeString(file, "{\"model_type\": \"qwen3\", \"vocab_size\": 7}");
        assertEquals(7, ModelFamilies.readConfig(file).get("vocab_size").asInt());
        assertEquals(7, ModelFamilies.readConfig(tmp).get("vocab_size").asInt());
        IOException missing = assertThrows(IOException.class, () -> ModelFamilies.readConfig(tmp.resolve("none")));
        assertTrue(missing.getMessage().contains("no HF config at"), missing.getMessage());
        Files.writeString(file, "[1, 2]");
        IOException notObject = assertThrows(IOException.class, () -> ModelFamilies.readConfig(tmp));
        assertTrue(notObject.getMessage().endsWith("is not a JSON object"), notObject.getMessage());
    }

    @Test
    void aBadConfigOfAKnownFamilyFailsNamingTheFileAndTheKey(@TempDir Path tmp) throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"model_type\": \"qwen3\", \"vocab_size\": 7}");
        IOException e = assertThrows(IOException.class, () -> ModelFamilies.load(tmp, ModelOptions.defaults()));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("num_attention_heads"), e.getMessage());
    }

    /** The freeze flags are for vision-language models: a decoder family refuses them by key. */
    @Test
    void decoderFamiliesRefuseTheFreezeFlags() throws IOException {
        ModelOptions frozen = new ModelOptions("auto", 0, null, new FrozenParts(false, true, false));
        for (String type : List.of("qwen3", "qwen3_moe")) {
            JsonNode config = JSON.readTree("{\"model_type\": \"" + type + "\"}");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ModelFamilies.build(config, frozen));
            assertTrue(e.getMessage().contains("model.freeze_merger") && e.getMessage().contains(type), e.getMessage());
        }
        assertEquals(FrozenParts.NONE, new ModelOptions("auto", 0, null).frozen());
        assertEquals(FrozenParts.NONE, new ModelOptions("auto", 0, null, null).frozen());
    }

    @Test
    void optionsRefuseAMisspeltAttentionAndANegativeChunk() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ModelOptions("flash", 0, null));
        assertTrue(e.getMessage().contains("model.attention_impl"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelOptions("auto", -1, null));
        assertTrue(e.getMessage().contains("model.loss_chunk_tokens"), e.getMessage());
    }
}
