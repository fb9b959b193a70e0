package ai.omnispark.trainer.spark;

import static ai.omnispark.trainer.testing.TestRuns.weights;
import ai.omnispark.trainer.testing.TinyModel;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.TrainSummary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer as a Spark barrier stage in local mode: ranks are tasks, progress reaches the driver. */
class SparkTrainerTest {
    @TempDir
    static Path dir;

    static Path modelConfig;
    static SparkSession spark;

    @BeforeAll
    static void start() throws IOException {
        modelConfig = TinyModel.write(dir, true);
        spark = SparkSession.builder().master("local[2]").appName("omnispark-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static Settings settings(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + modelConfig, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.threads=1", "train.comm_timeout_s=60", "train.log_steps=1"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }


    @Test
    void twoRanksTrainThroughABarrierStageAndReportToTheDriver() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        TrainSummary s = OmniTrainer.create(settings("local2", "train.max_steps=4", "train.save_steps=2"))
                .console(new PrintStream(console, true, StandardCharsets.UTF_8)).fit(spark);
        String printed = console.toString(StandardCharsets.UTF_8);
        assertEquals(2, s.worldSize(), "local mode defaults to 2 ranks");
        assertEquals(4, s.steps());
        assertEquals(0, s.restarts());
        assertTrue(s.finalLoss() < s.initialLoss(), printed);
        assertTrue(printed.contains("step 4/4"), printed);
        assertTrue(printed.contains("ranks 2 (fsdp"), printed);
        Path out = dir.resolve("local2");
        List<String> metrics = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        // The objective's one term (token cross-entropy) reaches the driver's metrics as loss_ce.
        for (String line : metrics) {
            com.fasterxml.jackson.databind.JsonNode m = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
            assertTrue(m.has("loss_ce"), line);
            assertEquals(m.get("loss").asDouble(), m.get("loss_ce").asDouble(), line);
        }
        assertEquals("4", Files.readString(out.resolve("checkpoints/latest_checkpointed_iteration.txt")).trim());
        assertTrue(Files.isRegularFile(out.resolve("checkpoints/global_step_2/model/index.json")));
        assertTrue(Files.isRegularFile(out.resolve("final_hf/model.safetensors")));
    }

    @Test
    void aRankFailingAtStepSevenIsRelaunchedAndEndsLikeAnUninterruptedRun() throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        String[] run = {"train.max_steps=12", "train.save_steps=3", "train.world_size=2"};
        TrainSummary clean = OmniTrainer.create(settings("clean", run)).console(quiet).fit(spark);
        List<String> failing = new ArrayList<>(List.of(run));
        failing.add("debug.fail_at_step=7");
        failing.add("train.max_restarts=1");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        TrainSummary restarted = OmniTrainer.create(settings("restarted", failing.toArray(new String[0])))
                .console(new PrintStream(console, true, StandardCharsets.UTF_8)).fit(spark);
        assertEquals(1, restarted.restarts(), console.toString(StandardCharsets.UTF_8));
        assertTrue(console.toString(StandardCharsets.UTF_8).contains("attempt 1 failed (rank 1 of 2 (attempt 1): "
                + "ai.omnispark.trainer.job.RankJob$InjectedFailure: debug.fail_at_step: rank 1 fails before step 7)"),
                console.toString(StandardCharsets.UTF_8));
        assertEquals(12, restarted.steps());
        assertEquals(clean.initialLoss(), restarted.initialLoss());
        assertEquals(clean.finalLoss(), restarted.finalLoss());
        Map<String, float[]> a = weights(dir.resolve("clean/final_hf"));
        Map<String, float[]> b = weights(dir.resolve("restarted/final_hf"));
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name), b.get(name), name);
        }
        assertEquals(12, Files.readAllLines(dir.resolve("restarted/metrics.jsonl")).size(),
                "one metrics line per step, the relaunch's for the repeated ones");
    }

    /**
     * The driver's end of the progress channel closes at step 3 of 30: training must go on to the
     * end (before, rank 0's next write threw and killed the run), and the summary and console must
     * say progress was lost.
     */
    @Test
    void theDriversProgressSocketClosingMidRunLosesProgressNotTraining() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        TrainSummary s = OmniTrainer.create(settings("lost", "train.max_steps=30", "train.world_size=2",
                "train.save_hf_weights=false"))
                .withProgressServer(server -> {
                    Thread breaker = new Thread(() -> {
                        long deadline = System.nanoTime() + 120_000_000_000L;
                        while (server.lastStep() < 3 && System.nanoTime() < deadline) {
                            try {
                                Thread.sleep(5);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                        server.dropConnections();
                    });
                    breaker.setDaemon(true);
                    breaker.start();
                })
                .console(new PrintStream(console, true, StandardCharsets.UTF_8)).fit(spark);
        String printed = console.toString(StandardCharsets.UTF_8);
        assertEquals(30, s.steps(), printed);
        assertEquals(0, s.restarts(), printed);
        assertTrue(s.progressDropped() > 0, "progress_dropped " + s.progressDropped() + "\n" + printed);
        assertTrue(printed.contains("progress lost"), printed);
        assertTrue(s.toJsonLine().contains("\"progress_dropped\":" + s.progressDropped()), s.toJsonLine());
        assertEquals("30", Files.readString(dir.resolve("lost/checkpoints/latest_checkpointed_iteration.txt")).trim());
    }

    /**
     * The last rank fails on its own while rank 0 then fails on the collective it was left alone in:
     * the driver's error must be the failing rank's own exception, whichever task Spark heard of first.
     */
    @Test
    void theDriverReportsTheFailingRanksOwnExceptionNotItsPeersEcho() throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Exception e = assertThrows(Exception.class, () -> OmniTrainer.create(settings("echo", "train.max_steps=6",
                "train.world_size=2", "debug.fail_at_step=3", "train.save_hf_weights=false")).console(quiet).fit(spark));
        assertTrue(e instanceof RankFailure, e.toString());
        assertTrue(e.getMessage().startsWith("rank 1 of 2 (attempt 1): "), e.getMessage());
        assertTrue(e.getMessage().contains("debug.fail_at_step: rank 1 fails before step 3"), e.getMessage());
        assertTrue(!e.getMessage().contains("closed its communicator"), e.getMessage());
    }

    /** The scenario: one byte flipped in the newest checkpoint, then a resume with auto. */
    @Test
    void aResumeOverAFlippedByteFallsBackToTheCheckpointBefore() throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        OmniTrainer.create(settings("flipped", "train.max_steps=4", "train.save_steps=2", "train.world_size=2",
                "train.save_hf_weights=false")).console(quiet).fit(spark);
        Path shard = dir.resolve("flipped/checkpoints/global_step_4/model/shard-00001-of-00002.safetensors");
        ai.omnispark.trainer.testing.CheckpointDamage.flipByte(shard);
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        TrainSummary s = OmniTrainer.create(settings("flipped", "train.max_steps=6", "train.save_steps=2",
                "train.world_size=2", "train.save_hf_weights=false", "train.load_checkpoint_path=auto"))
                .console(new PrintStream(console, true, StandardCharsets.UTF_8)).fit(spark);
        String printed = console.toString(StandardCharsets.UTF_8);
        assertEquals(6, s.steps(), printed);
        assertTrue(printed.contains("skipping ") && printed.contains("shard-00001-of-00002.safetensors")
                && printed.contains("corrupt"), printed);
        assertTrue(printed.contains("global_step_2 at step 2"), printed);
        assertTrue(printed.indexOf("skipping ") < printed.indexOf("resumed from"), printed);
    }

    @Test
    void aDataFrameIsPreparedIntoArrowShardsAndTrainedOn() throws Exception {
        List<org.apache.spark.sql.Row> texts = new ArrayList<>();
        for (String t : ai.omnispark.data.sample.SyntheticText.documents(7, 300)) {
            texts.add(org.apache.spark.sql.RowFactory.create(t));
        }
        org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df = spark.createDataFrame(texts,
                new org.apache.spark.sql.types.StructType().add("text", "string"));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        TrainSummary s = OmniTrainer.create(settings("frame", "train.max_steps=6", "train.world_size=2"))
                .console(new PrintStream(console, true, StandardCharsets.UTF_8)).fit(spark, df);
        String printed = console.toString(StandardCharsets.UTF_8);
        assertTrue(Files.isRegularFile(dir.resolve("frame/data/manifest.json")), printed);
        assertTrue(printed.contains("prepared at"), printed);
        assertEquals(6, s.steps());
        assertTrue(s.finalLoss() < s.initialLoss(), printed);
    }

    @Test
    void impossibleSetupsAreRefusedBeforeLaunch() throws IOException {
        ConfigException slots = assertThrows(ConfigException.class,
                () -> OmniTrainer.create(settings("x", "train.world_size=4")).fit(spark));
        assertTrue(slots.getMessage().contains("task slots"), slots.getMessage());
        ConfigException plan = assertThrows(ConfigException.class, () -> OmniTrainer.create(settings("y",
                "train.world_size=2", "train.data_parallel_replicate_size=3")).fit(spark));
        assertTrue(plan.getMessage().contains("data_parallel_replicate_size"), plan.getMessage());

        ConfigException unknown = assertThrows(ConfigException.class,
                () -> OmniTrainer.create(settings("z", "train.learning_rate=1e-3")).fit(spark));
        assertTrue(unknown.getMessage().contains("unknown key 'train.learning_rate'"), unknown.getMessage());

        Path aFile = dir.resolve("not-a-directory");
        Files.writeString(aFile, "x");
        for (String outputDir : new String[] {aFile.toString(), aFile.resolve("below").toString(),
            "hdfs://127.0.0.1:1/nobody-listens"}) {
            ConfigException out = assertThrows(ConfigException.class,
                    () -> OmniTrainer.create(settings("unused", "train.output_dir=" + outputDir)).fit(spark));
            assertTrue(out.getMessage().startsWith("train.output_dir " + outputDir + " is"), out.getMessage());
        }
        assertEquals("x", Files.readString(aFile), "the probe left the file that stood in the way alone");
    }
}
