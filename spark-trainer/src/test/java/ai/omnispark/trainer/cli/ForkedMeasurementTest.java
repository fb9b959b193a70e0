package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code plan}'s measurement in a JVM of its own, against the same measurement taken in this one. */
class ForkedMeasurementTest {
    @TempDir
    static Path dir;

    /** The bundled tiny Qwen3 (4 layers, hidden 128, 4 heads), 2 ranks sharded: a child JVM measures it in seconds. */
    private static Settings tiny() {
        return Settings.fromTree(null, List.of("model.config_path=" + Path.of("..", "conf", "models", "tiny-qwen3.json"),
                "data.train_path=synthetic://text", "data.max_seq_len=256", "train.output_dir=" + dir.resolve("out"),
                "train.global_batch_size=8", "train.micro_batch_size=4", "train.lr=1e-3", "train.max_steps=10",
                "train.world_size=2", "train.parallel_plan=manual"), "test");
    }

    @Test
    void aForkedMeasurementReadsWhatTheSameMeasurementReadsInThisJvm() throws Exception {
        Assumptions.assumeTrue(ai.omnispark.parallel.runtime.NativeHeap.available(), "no glibc mallinfo2 here");
        Settings s = tiny();
        BenchParallel.Measured here = Measurement.IN_PROCESS.take(s, 3, 3, 1, null);
        BenchParallel.Measured forked = new ForkedMeasurement(Duration.ofMinutes(5)).take(s, 3, 3, 1, null);
        assertEquals(here.layout(), forked.layout());
        assertEquals(List.of(here.seqLen(), here.microBatch()), List.of(forked.seqLen(), forked.microBatch()));
        // the stores' bytes are exact; the activation bytes are live C-heap differences, equal up to
        // what other threads allocate meanwhile: a young JVM's JIT compiler threads still do (0.41 MB of
        // 12.8 MB measured on a 2-layer hidden-64 model, 3.2 %)
        assertEquals(here.stateBytes(), forked.stateBytes());
        assertEquals(here.fullWeightBytes(), forked.fullWeightBytes());
        assertEquals(here.activationBytes(), forked.activationBytes(), 0.06 * here.activationBytes());
        assertTrue(forked.stepMs() > 0, "a step time: " + forked.stepMs());
    }

    @Test
    void aChildsConfigErrorComesBackAsOneAndAHungChildIsStopped() throws Exception {
        Settings s = tiny();
        // 4 heads over an sp of 8: refused inside the child, in the family's words
        ConfigException e = assertThrows(ConfigException.class, () -> new ForkedMeasurement(Duration.ofMinutes(5))
                .take(s.with("train.world_size", 8).with("train.ulysses_parallel_size", 8)
                        .with("train.global_batch_size", 2).with("train.micro_batch_size", 2), 1, 0, 1, null));
        assertTrue(e.getMessage().contains("ulysses"), e.getMessage());
        IllegalStateException late = assertThrows(IllegalStateException.class,
                () -> new ForkedMeasurement(Duration.ofMillis(200)).take(s, 2, 1, 1, null));
        assertTrue(late.getMessage().contains("ran past 0 s and was stopped: world 2"), late.getMessage());
    }
}
