package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.train;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attention dropout draws its masks from each rank's generator, which checkpoints save: a run
 * interrupted after step 3 and resumed must reproduce the uninterrupted run bit for bit (losses,
 * gradient norms, final weights), on 2 ranks with recompute on, so the masks are also the same
 * when a block is recomputed in backward.
 */
class DropoutResumeTest {
    @TempDir
    static Path dir;

    static Path dropoutModel;
    static Path plainModel;

    @BeforeAll
    static void writeModels() throws IOException {
        plainModel = TinyModel.write(dir, false);
        String json = Files.readString(plainModel);
        dropoutModel = dir.resolve("tiny-dropout.json");
        Files.writeString(dropoutModel, json.replace("\"rms_norm_eps\"", "\"attention_dropout\":0.2,\"rms_norm_eps\""));
    }

    private static Settings settings(Path model, String out, String... sets) {
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=32", "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4",
                "train.micro_batch_size=1", "train.lr=1e-3", "train.max_steps=6", "train.save_steps=3",
                "train.threads=1", "train.comm_timeout_s=30", "train.world_size=2",
                "train.enable_gradient_checkpointing=true", "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }



    @Test
    void resumeWithDropoutIsBitIdentical() throws Exception {
        Map<Long, StepResult> full = train(settings(dropoutModel, "full"));
        Map<Long, StepResult> plain = train(settings(plainModel, "plain"));
        // The masks are in effect: the first step's loss differs from the same run without dropout.
        assertNotEquals(plain.get(1L).loss(), full.get(1L).loss(), "dropout changed nothing");
        // Each rank saved its own generator state.
        Path extra = dir.resolve("full/checkpoints/global_step_3/extra_state");
        long rank0 = new ObjectMapper().readTree(extra.resolve("extra_state_rank_0.json").toFile()).path("rng")
                .path("state").asLong();
        long rank1 = new ObjectMapper().readTree(extra.resolve("extra_state_rank_1.json").toFile()).path("rng")
                .path("state").asLong();
        assertNotEquals(rank0, rank1, "ranks share one stream");

        assertThrows(Exception.class, () -> train(settings(dropoutModel, "cut", "debug.fail_at_step=4")));
        Map<Long, StepResult> resumed = train(settings(dropoutModel, "cut", "train.load_checkpoint_path=auto"));
        assertEquals(List.of(4L, 5L, 6L), new ArrayList<>(resumed.keySet()));
        for (long step = 4; step <= 6; step++) {
            assertEquals(full.get(step).loss(), resumed.get(step).loss(), 0.0, "loss of step " + step);
            assertEquals(full.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0, "grad norm of step " + step);
        }
        Map<String, float[]> fullW = weights(dir.resolve("full/final_hf"));
        Map<String, float[]> resumedW = weights(dir.resolve("cut/final_hf"));
        assertEquals(fullW.keySet(), resumedW.keySet());
        for (String name : fullW.keySet()) {
            assertArrayEquals(fullW.get(name), resumedW.get(name), 0f, name);
        }
    }
}
