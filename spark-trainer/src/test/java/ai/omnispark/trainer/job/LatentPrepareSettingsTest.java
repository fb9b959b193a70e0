package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.pipeline.DataType;
import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The video_latent keys reach the prepare step, with the documented defaults, and bad values are named. */
class LatentPrepareSettingsTest {
    @TempDir
    Path tmp;

    private PrepareConfig prepare(String... sets) throws Exception {
        List<String> overrides = new ArrayList<>(List.of("data.train_path=in.jsonl", "data.data_type=video_latent",
                "data.output_path=" + tmp.resolve("out")));
        overrides.addAll(List.of(sets));
        Path yaml = tmp.resolve("c.yaml");
        Files.writeString(yaml, "train:\n  output_dir: " + tmp.resolve("run") + "\n");
        return DataPreparation.config(Settings.load(yaml, overrides));
    }

    @Test
    void defaultsAreWansShapes() throws Exception {
        PrepareConfig c = prepare();
        assertEquals(DataType.VIDEO_LATENT, c.dataType());
        assertEquals(SampleLayout.LATENTS, c.dataType().sampleLayout());
        assertEquals(16, c.latentChannels());
        assertEquals(4096, c.textEmbedDim());
        assertEquals(512, c.textEmbedLen());
        assertFalse(c.imageToVideo());
        assertEquals(16, c.describe().get("latent_channels"));
    }

    @Test
    void overridesReachThePrepareStep() throws Exception {
        PrepareConfig c = prepare("data.latent_channels=4", "data.text_embed_dim=32", "data.text_embed_len=8",
                "data.image_to_video=true");
        assertEquals(4, c.latentChannels());
        assertEquals(32, c.textEmbedDim());
        assertEquals(8, c.textEmbedLen());
        assertTrue(c.imageToVideo());
    }

    @Test
    void badValuesAreNamed() {
        assertEquals("data.latent_channels must be >= 3, got 2",
                assertThrows(ConfigException.class, () -> prepare("data.latent_channels=2")).getMessage());
        assertEquals("data.text_embed_dim and data.text_embed_len must be >= 1, got 0 and 512",
                assertThrows(ConfigException.class, () -> prepare("data.text_embed_dim=0")).getMessage());
        assertTrue(assertThrows(ConfigException.class, () -> prepare("data.data_type=video_latents")).getMessage()
                .contains("video_latent, got 'video_latents'"));
    }

    @Test
    void tokenDatasetsKeepTheirFingerprintSettings() throws Exception {
        // The latent keys join describe() (and so the fingerprint) only for video_latent.
        PrepareConfig text = prepare("data.data_type=plaintext");
        assertFalse(text.describe().containsKey("latent_channels"));
    }
}
