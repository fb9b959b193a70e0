package ai.omnispark.trainer.storage;

import ai.omnispark.trainer.testing.TinyModel;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.cli.MainAccess;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.TrainSummary;
import ai.omnispark.trainer.spark.OmniTrainer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * The storage round trip both storage tests run against a remote file system root (an
 * {@code hdfs://} or {@code s3a://} URI): a 2-rank barrier job on local Spark saves at steps 2 and
 * 4, a second job resumes it from {@code auto} and trains steps 5 and 6, and {@code export-hf} of
 * the step-6 checkpoint must give exactly the run's {@code final_hf} weights. Then one byte of the
 * step-6 checkpoint is flipped on the store (which keeps no Hadoop {@code .crc} files) and a resume
 * with {@code auto} must skip it, naming the file, and resume from step 4. Every byte goes through
 * the Hadoop FileSystem of the URI, configured only by {@code spark.hadoop.*} settings.
 */
final class StorageRoundTrip {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern STEP_LINE = Pattern.compile("^step (\\d+)/(\\d+) loss (\\S+)");

    private StorageRoundTrip() {}

    /**
     * @param root the remote folder the run lives in (it must not exist yet)
     * @param hadoop Hadoop settings, without the {@code spark.hadoop.} prefix
     * @param work a local folder for the model config and the copies read back
     */
    static void run(String root, Map<String, String> hadoop, java.nio.file.Path work) throws Exception {
        java.nio.file.Path modelConfig = TinyModel.write(work, false);
        String run = root + "/run";
        Configuration conf = new Configuration();
        hadoop.forEach(conf::set);
        Path runDir = new Path(run);
        FileSystem fs = runDir.getFileSystem(conf);
        Path checkpoints = new Path(runDir, "checkpoints");

        SparkSession.Builder builder = SparkSession.builder().appName("omnispark-storage").master("local[2]")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1");
        hadoop.forEach((k, v) -> builder.config("spark.hadoop." + k, v));
        SparkSession spark = builder.getOrCreate();
        Map<Long, Double> first;
        Map<Long, Double> second;
        String secondConsole;
        try {
            // 1. Four steps, saved at 2 and 4.
            ByteArrayOutputStream console1 = new ByteArrayOutputStream();
            TrainSummary s1 = OmniTrainer.create(settings(modelConfig, run, "train.max_steps=4"))
                    .console(new PrintStream(console1, true, StandardCharsets.UTF_8)).fit(spark);
            first = stepLosses(console1.toString(StandardCharsets.UTF_8));
            assertEquals(List.of(1L, 2L, 3L, 4L), new ArrayList<>(first.keySet()), console1.toString());
            assertEquals(4, s1.steps());
            assertEquals(2, s1.worldSize());
            assertEquals("4", read(fs, new Path(checkpoints, "latest_checkpointed_iteration.txt")).trim());
            assertTrue(fs.exists(new Path(checkpoints, "global_step_2")), "global_step_2 on " + run);
            assertTrue(fs.exists(new Path(checkpoints, "global_step_4")), "global_step_4 on " + run);
            Map<Long, JsonNode> metrics1 = metrics(fs, runDir);
            assertEquals(first.keySet(), metrics1.keySet(), "metrics.jsonl after the first run");

            // 2. Resume from the latest checkpoint: only steps 5 and 6 run.
            ByteArrayOutputStream console2 = new ByteArrayOutputStream();
            TrainSummary s2 = OmniTrainer.create(settings(modelConfig, run, "train.max_steps=6",
                    "train.load_checkpoint_path=auto"))
                    .console(new PrintStream(console2, true, StandardCharsets.UTF_8)).fit(spark);
            secondConsole = console2.toString(StandardCharsets.UTF_8);
            second = stepLosses(secondConsole);
            assertEquals(List.of(5L, 6L), new ArrayList<>(second.keySet()), secondConsole);
            assertTrue(secondConsole.contains("global_step_4 at step 4"), "did not resume from step 4:\n"
                    + secondConsole);
            assertEquals(6, s2.steps());
            assertEquals("6", read(fs, new Path(checkpoints, "latest_checkpointed_iteration.txt")).trim());
            Map<Long, JsonNode> metrics2 = metrics(fs, runDir);
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), new ArrayList<>(metrics2.keySet()));
            for (long step = 1; step <= 4; step++) {
                assertEquals(metrics1.get(step), metrics2.get(step), "metrics.jsonl keeps step " + step);
            }
            for (long step = 5; step <= 6; step++) {
                assertEquals(second.get(step), metrics2.get(step).get("loss").asDouble(), 1e-4,
                        "metrics.jsonl step " + step);
            }
            assertEquals(metrics2.get(5L).get("loss").asDouble(), s2.initialLoss(),
                    "the resumed run's first step is step 5");
        } finally {
            spark.stop();
        }

        // 3. export-hf of the step-6 checkpoint, in a fresh FileSystem: the command must find the
        // store from spark.hadoop.* settings alone (as under spark-submit), not from a cached client.
        // --out is a file:// URI: a bare path would resolve against fs.defaultFS.
        FileSystem.closeAll();
        fs = runDir.getFileSystem(conf);
        java.nio.file.Path exported = work.resolve("exported");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Map<String, String> previous = new LinkedHashMap<>();
        hadoop.forEach((k, v) -> previous.put("spark.hadoop." + k, System.setProperty("spark.hadoop." + k, v)));
        int rc;
        try {
            rc = MainAccess.run(new String[] {"export-hf", "--checkpoint", run + "/checkpoints/global_step_6",
                "--out", exported.toUri().toString()}, new PrintStream(printed, true, StandardCharsets.UTF_8));
        } finally {
            previous.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
        assertEquals(0, rc, printed.toString(StandardCharsets.UTF_8));

        java.nio.file.Path finalHf = work.resolve("final_hf");
        Files.createDirectories(finalHf);
        fs.copyToLocalFile(false, new Path(runDir, "final_hf/model.safetensors"),
                new Path(finalHf.resolve("model.safetensors").toUri()), true);
        Map<String, float[]> trained = weights(finalHf);
        Map<String, float[]> fromCheckpoint = weights(exported);
        assertEquals(trained.keySet(), fromCheckpoint.keySet(), "tensor names");
        assertTrue(trained.size() > 0);
        for (String name : trained.keySet()) {
            assertArrayEquals(trained.get(name), fromCheckpoint.get(name), name);
        }

        // 4. A flipped byte in the newest checkpoint: auto falls back to step 4 (one rank, no Spark needed;
        // resuming two ranks' checkpoint on one is a changed parallel plan, so it is allowed explicitly).
        Path shard = new Path(checkpoints, "global_step_6/model/shard-00001-of-00002.safetensors");
        byte[] bytes;
        try (InputStream in = fs.open(shard)) {
            bytes = in.readAllBytes();
        }
        bytes[bytes.length - 5] ^= 0x01;
        try (java.io.OutputStream out = fs.create(shard, true)) {
            out.write(bytes);
        }
        ByteArrayOutputStream console4 = new ByteArrayOutputStream();
        TrainSummary s4 = ai.omnispark.trainer.job.RankJob.run(settings(modelConfig, run, "train.max_steps=8",
                "train.world_size=1", "train.load_checkpoint_path=auto", "train.resume_policy=allow_changes"),
                new ai.omnispark.trainer.job.RankJob.Env(0, 1, null, 1, null, conf, 0),
                new PrintStream(console4, true, StandardCharsets.UTF_8));
        String fourth = console4.toString(StandardCharsets.UTF_8);
        assertTrue(fourth.contains("skipping ") && fourth.contains("global_step_6")
                && fourth.contains("shard-00001-of-00002.safetensors") && fourth.contains("corrupt"), fourth);
        assertTrue(fourth.contains("global_step_4 at step 4"), fourth);
        assertEquals(8, s4.steps());
        assertEquals("8", read(fs, new Path(checkpoints, "latest_checkpointed_iteration.txt")).trim());
    }

    private static Settings settings(java.nio.file.Path modelConfig, String outputDir, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + modelConfig, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + outputDir, "train.global_batch_size=12", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.threads=1", "train.comm_timeout_s=60", "train.world_size=2",
                "train.save_steps=2", "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    /** Step to loss, from the driver console's plain progress lines. */
    private static Map<Long, Double> stepLosses(String console) {
        Map<Long, Double> losses = new TreeMap<>();
        for (String line : console.split("\n")) {
            Matcher m = STEP_LINE.matcher(line.strip());
            if (m.find()) {
                losses.put(Long.parseLong(m.group(1)), Double.parseDouble(m.group(3)));
            }
        }
        return losses;
    }

    private static Map<Long, JsonNode> metrics(FileSystem fs, Path runDir) throws IOException {
        Map<Long, JsonNode> byStep = new TreeMap<>();
        for (String line : read(fs, new Path(runDir, "metrics.jsonl")).split("\n")) {
            if (!line.isBlank()) {
                JsonNode o = JSON.readTree(line);
                byStep.put(o.get("step").asLong(), o);
            }
        }
        return byStep;
    }

    static String read(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Map<String, float[]> weights(java.nio.file.Path hf) throws IOException {
        Map<String, float[]> w = new TreeMap<>();
        try (SafeTensorsReader r = SafeTensorsReader.open(hf.resolve("model.safetensors"))) {
            for (TensorInfo t : r.tensors()) {
                w.put(t.name(), r.readFloats(t.name()));
            }
        }
        return w;
    }
}
