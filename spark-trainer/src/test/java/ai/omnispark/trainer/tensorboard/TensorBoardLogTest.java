package ai.omnispark.trainer.tensorboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.spark.OmniTrainer;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TensorBoard event files, read back by {@link TfEventsReader}, which shares no code with the writer. */
class TensorBoardLogTest {
    @TempDir
    Path dir;

    @Test
    void theReadersCrc32cMatchesTheKnownVectorAndTheJdk() {
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        assertEquals(0xE3069283, TfEventsReader.crc32c(check, 0, check.length));
        Random random = new Random(7);
        for (int n : new int[] {0, 1, 7, 8, 100, 4099}) {
            byte[] b = new byte[n];
            random.nextBytes(b);
            java.util.zip.CRC32C jdk = new java.util.zip.CRC32C();
            jdk.update(b);
            assertEquals((int) jdk.getValue(), TfEventsReader.crc32c(b, 0, n), "CRC-32C of " + n + " random bytes");
        }
    }

    @Test
    void everyStepIsOneEventWithOneScalarPerMetric() throws IOException {
        List<StepResult> steps = List.of(new StepResult(1, 5.5, 1e-3, 2.25, 256, 40.0, 1.5),
                new StepResult(2, 5.25, 9e-4, 1.75, 256, 38.0, 0.5),
                new StepResult(300, 1.0e-3, 0.0, 0.125, 128, 1000.0, 0.0));
        Path file;
        try (TensorBoardLog log = TensorBoardLog.open(dir.resolve("tb").toString(), new Configuration())) {
            for (StepResult r : steps) {
                log.onStep(r, 300);
            }
            file = Path.of(log.file().toUri());
        }
        assertTrue(file.getFileName().toString().startsWith("events.out.tfevents."), file.toString());
        List<TfEventsReader.Event> events = TfEventsReader.read(Files.readAllBytes(file));
        assertEquals(1 + steps.size(), events.size());
        assertEquals("brain.Event:2", events.get(0).fileVersion());
        assertTrue(events.get(0).simpleValues().isEmpty());
        double now = System.currentTimeMillis() / 1000.0;
        for (int i = 0; i < steps.size(); i++) {
            StepResult r = steps.get(i);
            TfEventsReader.Event e = events.get(i + 1);
            assertNull(e.fileVersion());
            assertEquals(r.step(), e.step());
            assertTrue(Math.abs(e.wallTime() - now) < 60, "wall time " + e.wallTime() + " is not now");
            // simple_value is a float32: each value is the metric rounded to float, exactly.
            assertEquals(Map.of("train/loss", (float) r.loss(), "train/lr", (float) r.lr(),
                    "train/grad_norm", (float) r.gradNorm(), "train/tokens_per_s", (float) r.tokensPerSecond(),
                    "train/tokens", (float) r.tokens(), "train/step_ms", (float) r.stepMs(),
                    "train/data_wait_ms", (float) r.dataWaitMs()), e.simpleValues());
        }
        // The reader checks the framing: one flipped bit in a payload is caught.
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 10] ^= 0x10;
        IOException bad = assertThrows(IOException.class, () -> TfEventsReader.read(bytes));
        assertTrue(bad.getMessage().contains("CRC"), bad.getMessage());
    }

    @Test
    void aTrainingRunWritesTheLossOfEveryStep() throws Exception {
        Path model = TinyModel.write(dir, true);
        Path out = dir.resolve("run");
        Path tb = dir.resolve("tensorboard");
        Settings settings = Settings.fromTree(null, List.of("model.config_path=" + model,
                "data.train_path=synthetic://text", "data.max_seq_len=64", "train.output_dir=" + out,
                "train.global_batch_size=2", "train.micro_batch_size=1", "train.max_steps=4", "train.world_size=1",
                "train.data_parallel_mode=none", "train.threads=1", "train.save_hf_weights=false",
                "train.tensorboard_dir=" + tb), "test");
        SparkSession spark = SparkSession.builder().master("local[1]").appName("omnispark-tensorboard-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        try {
            OmniTrainer.create(settings).console(new PrintStream(new ByteArrayOutputStream())).fit(spark);
        } finally {
            spark.stop();
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(tb)) {
            files = s.toList();
        }
        assertEquals(1, files.size(), files.toString());
        List<TfEventsReader.Event> events = TfEventsReader.read(Files.readAllBytes(files.get(0)));
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        assertEquals(1 + metrics.size(), events.size());
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < metrics.size(); i++) {
            JsonNode m = json.readTree(metrics.get(i));
            TfEventsReader.Event e = events.get(i + 1);
            assertEquals(m.get("step").asLong(), e.step());
            for (String name : List.of("loss", "loss_ce", "lr", "grad_norm", "tokens_per_s", "data_wait_ms")) {
                assertEquals((float) m.get(name).asDouble(), e.simpleValues().get("train/" + name), name);
            }
        }
    }
}
