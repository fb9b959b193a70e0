package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.train;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TinyModel;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * train.enable_gradient_checkpointing makes the family's parallelize step recompute every
 * attention and MLP segment; it must change nothing but memory: with attention dropout on 2 FSDP
 * ranks, every step's loss, its named term and grad norm, and the final weights are bit-identical.
 */
class RecomputeTest {
    @TempDir
    static Path dir;

    private static Settings settings(Path model, String out, boolean recompute) {
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=32", "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4",
                "train.micro_batch_size=1", "train.lr=1e-3", "train.max_steps=4", "train.threads=1",
                "train.comm_timeout_s=30", "train.world_size=2", "train.save_hf_weights=true",
                "train.enable_gradient_checkpointing=" + recompute));
        return Settings.fromTree(null, all, "test");
    }



    @Test
    void recomputingAttentionAndMlpSegmentsChangesNoBit() throws Exception {
        Path plain = TinyModel.write(dir, false);
        Path model = dir.resolve("tiny-dropout.json");
        Files.writeString(model, Files.readString(plain)
                .replace("\"rms_norm_eps\"", "\"attention_dropout\":0.2,\"rms_norm_eps\""));
        Map<Long, StepResult> kept = train(settings(model, "kept", false));
        Map<Long, StepResult> recomputed = train(settings(model, "recomputed", true));
        assertEquals(List.of(1L, 2L, 3L, 4L), new ArrayList<>(kept.keySet()));
        assertEquals(kept.keySet(), recomputed.keySet());
        for (long step : kept.keySet()) {
            StepResult a = kept.get(step);
            StepResult b = recomputed.get(step);
            assertEquals(a.loss(), b.loss(), 0.0, "loss of step " + step);
            assertEquals(a.gradNorm(), b.gradNorm(), 0.0, "grad norm of step " + step);
            assertEquals(a.lossTerms(), b.lossTerms(), "loss terms of step " + step);
            assertEquals(List.of("ce"), new ArrayList<>(a.lossTerms().keySet()));
            assertEquals(a.loss(), a.lossTerms().get("ce"), 0.0, "the loss is its one term");
        }
        Map<String, float[]> w1 = weights(dir.resolve("kept/final_hf"));
        Map<String, float[]> w2 = weights(dir.resolve("recomputed/final_hf"));
        assertEquals(w1.keySet(), w2.keySet());
        for (String name : w1.keySet()) {
            assertArrayEquals(w1.get(name), w2.get(name), 0f, name);
        }
    }
}
