package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.data.SampleLayouts;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prepare step takes a vision-language model's special token ids from its config.json and
 * writes the vision markers it needs; a dataset whose ids differ from the model's is refused by name.
 */
class VlmPrepareSettingsTest {
    private static final String VLM_IDS = "{\"model_type\": \"qwen2_vl\", \"image_token_id\": 259, "
            + "\"video_token_id\": 260, \"vision_start_token_id\": 261, \"vision_end_token_id\": 262}";

    @TempDir
    Path tmp;

    private PrepareConfig prepare(String modelJson, String... sets) throws Exception {
        Path model = tmp.resolve("config.json");
        Files.writeString(model, modelJson);
        List<String> overrides = new ArrayList<>(List.of("data.train_path=in.jsonl", "data.data_type=image_text",
                "data.output_path=" + tmp.resolve("out"), "model.config_path=" + model));
        overrides.addAll(List.of(sets));
        Path yaml = tmp.resolve("c.yaml");
        Files.writeString(yaml, "train:\n  output_dir: " + tmp.resolve("run") + "\n");
        return DataPreparation.config(Settings.load(yaml, overrides));
    }

    @Test
    void aVisionLanguageModelsIdsAndMarkersReachThePrepareStep() throws Exception {
        PrepareConfig c = prepare(VLM_IDS);
        assertTrue(c.visionMarkers());
        assertEquals(259, c.imageTokenId());
        assertEquals(260, c.videoTokenId());
        assertEquals(261, c.visionStartTokenId());
        assertEquals(262, c.visionEndTokenId());
        PrepareConfig off = prepare(VLM_IDS, "data.vision_markers=false", "data.image_token_id=300");
        assertFalse(off.visionMarkers());
        assertEquals(300, off.imageTokenId());
        ConfigException bad = assertThrows(ConfigException.class, () -> prepare(VLM_IDS, "data.vision_markers=yes"));
        assertEquals("data.vision_markers must be true, false or auto, got 'yes'", bad.getMessage());
    }

    @Test
    void aTextModelLeavesTheDefaults() throws Exception {
        PrepareConfig c = prepare(Files.readString(Path.of("..", "conf", "models", "tiny-qwen3.json")));
        assertFalse(c.visionMarkers());
        assertEquals(-1, c.imageTokenId());
        assertEquals(-1, c.visionStartTokenId());
        PrepareConfig forced = prepare(Files.readString(Path.of("..", "conf", "models", "tiny-qwen3.json")),
                "data.vision_markers=true");
        assertTrue(forced.visionMarkers());
        assertEquals(-1, forced.visionStartTokenId(), "the byte tokenizer's default: vocab size + 2");
    }

    @Test
    void aDatasetWithOtherIdsThanTheModelIsRefusedByName() throws Exception {
        JsonNode model = new ObjectMapper().readTree(VLM_IDS);
        Map<String, Object> same = Map.of("image_token_id", 259, "video_token_id", 260, "vision_start_token_id", 261,
                "vision_end_token_id", 262);
        SampleLayouts.checkMediaTokens("d", same, model);
        ConfigException other = assertThrows(ConfigException.class, () -> SampleLayouts.checkMediaTokens("d",
                Map.of("image_token_id", 151655, "video_token_id", 260), model));
        assertTrue(other.getMessage().startsWith("dataset d was prepared with image_token_id=151655 but the model's "
                + "config.json names image_token_id=259"), other.getMessage());
        ConfigException unmarked = assertThrows(ConfigException.class, () -> SampleLayouts.checkMediaTokens("d",
                Map.of("image_token_id", 259, "video_token_id", 260), model));
        assertTrue(unmarked.getMessage().startsWith("dataset d was prepared without vision_start_token_id"),
                unmarked.getMessage());
    }
}
