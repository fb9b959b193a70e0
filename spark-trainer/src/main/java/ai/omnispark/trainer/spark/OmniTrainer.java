package ai.omnispark.trainer.spark;

import ai.omnispark.parallel.checkpoint.AttemptFence;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.config.TrainSection;
import ai.omnispark.trainer.job.DataPreparation;
import ai.omnispark.trainer.job.MetricsLog;
import ai.omnispark.trainer.job.ProgressPrinter;
import ai.omnispark.trainer.job.RunStats;
import ai.omnispark.trainer.job.TrainSummary;
import ai.omnispark.trainer.profile.ProfileFiles;
import ai.omnispark.trainer.storage.OutputDirProbe;
import ai.omnispark.trainer.tensorboard.TensorBoardLog;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.data.pipeline.PreparePipeline;
import ai.omnispark.data.pipeline.PrepareResult;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import scala.reflect.ClassTag$;

/**
 * Trains on a Spark cluster: one barrier stage whose tasks are the ranks. The driver checks the
 * cluster can run it, hands each task the settings, the attempt's own secret and progress token and
 * the address of its progress channel, prints progress, and relaunches a failed stage from the
 * latest checkpoint up to {@code train.max_restarts} times.
 *
 * <p>Spark aborts a failed barrier ResultStage rather than retrying it, so this relaunch is the only
 * retry, and it fences the attempts apart: each has its own secret and progress token (a straggler
 * of the last one can neither join the new mesh nor be heard), the driver claims the checkpoints
 * for it ({@link AttemptFence}) before launching it, and it is launched only once every task of the
 * previous attempt has ended ({@link AttemptTasks}; a bounded wait, then a clear failure). A failed
 * run reports the first failing rank's own exception, not a peer's echo of it.
 *
 * <pre>
 * TrainSummary s = OmniTrainer.create(settings).fit(spark);
 * </pre>
 */
public final class OmniTrainer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Settings settings;
    private PrintStream console = System.out;
    private java.util.function.Consumer<ProgressServer> progressServerHook = server -> {};

    private OmniTrainer(Settings settings) {
        this.settings = settings;
    }

    public static OmniTrainer create(Settings settings) {
        return new OmniTrainer(settings);
    }

    /** Where progress and log lines go (the driver's console by default). */
    public OmniTrainer console(PrintStream out) {
        this.console = out;
        return this;
    }

    /** Tests: hands over the driver's progress server once it listens, e.g. to break its connections. */
    OmniTrainer withProgressServer(java.util.function.Consumer<ProgressServer> hook) {
        this.progressServerHook = hook;
        return this;
    }

    /**
     * Prepares {@code rows} (columns named by {@code data.text_keys}, or {@code messages} for
     * conversations) into Arrow shards under {@code data.output_path} (default {@code OUTPUT_DIR/data}), then
     * trains on them. A rerun over unchanged data and settings reuses the shards.
     */
    public TrainSummary fit(SparkSession spark, Dataset<Row> rows) throws Exception {
        PrepareConfig config = DataPreparation.config(settings.with("data.train_path", "dataframe"));
        String prepared = config.outputPath();
        PrepareResult result = PreparePipeline.run(spark, rows, config);
        console.println("data " + (result.skipped() ? "already prepared" : "prepared") + " at " + prepared + ": "
                + result.rows() + " packed rows");
        return new OmniTrainer(settings.with("data.train_path", prepared)).console(console).fit(spark);
    }

    public TrainSummary fit(SparkSession spark) throws Exception {
        SparkContext sc = spark.sparkContext();
        Settings run = settings.with("train.world_size", worldSize(sc));
        TrainSection train = JobConfig.from(run).train();
        int world = train.worldSize();
        TrainConfig config = TrainConfig.from(run, ParallelPlan.from(run).dataParallelSize());
        DataPreparation.checkSampleLayout(run, sc.hadoopConfiguration());
        checkCluster(sc, world);
        OutputDirProbe.check(config.outputDir(), sc.hadoopConfiguration());
        ProfileFiles.prepare(run, sc.hadoopConfiguration());

        SecureRandom random = new SecureRandom();
        org.apache.hadoop.fs.Path outputDir = new org.apache.hadoop.fs.Path(config.outputDir());
        org.apache.hadoop.fs.FileSystem fs = outputDir.getFileSystem(sc.hadoopConfiguration());
        org.apache.hadoop.fs.Path checkpoints = new org.apache.hadoop.fs.Path(fs.makeQualified(outputDir), "checkpoints");
        // A rank blocked in a collective gives up after the comm timeout; give it a minute more to end.
        long endWaitMs = (train.commTimeoutS() + 60) * 1000L;
        String runName = "omnispark " + config.outputDir();
        String driverHost = sc.getConf().get("spark.driver.host", "localhost");
        MetricsFile metrics = MetricsFile.open(run, sc.hadoopConfiguration(),
                !train.loadCheckpointPath().isBlank());
        RunRecord record = RunRecord.start(run, world, sc.hadoopConfiguration());
        String tensorboardDir = train.tensorboardDir();
        TensorBoardLog tensorboard = tensorboardDir.isBlank() ? null
                : TensorBoardLog.open(tensorboardDir, sc.hadoopConfiguration());
        ProgressPrinter progress = new ProgressPrinter(console, config.logSteps(), System.console() != null);
        // Every step the driver heard of, across attempts: the summary covers the whole run.
        RunStats seen = new RunStats();
        try (ProgressServer server = new ProgressServer(driverHost, (r, total) -> {
            seen.add(r);
            metrics.onStep(r, total);
            if (tensorboard != null) {
                tensorboard.onStep(r, total);
            }
            progress.onStep(r, total);
        }, console)) {
            progressServerHook.accept(server);
            int maxRestarts = train.maxRestarts();
            Settings attemptSettings = run;
            for (int attempt = 0; ; attempt++) {
                byte[] secret = new byte[32];
                random.nextBytes(secret);
                byte[] progressToken = new byte[32];
                random.nextBytes(progressToken);
                byte[] nonce = new byte[6];
                random.nextBytes(nonce);
                String attemptId = (attempt + 1) + "-" + java.util.HexFormat.of().formatHex(nonce);
                AttemptFence.claim(fs, checkpoints, attemptId);
                server.beginAttempt(attempt, progressToken);
                String group = "omnispark-" + Integer.toHexString(config.outputDir().hashCode()) + "-" + attemptId;
                sc.setJobGroup(group, runName + " (attempt " + (attempt + 1) + ", " + world + " ranks)", true);
                AttemptTasks tasks = new AttemptTasks(group);
                sc.addSparkListener(tasks);
                try {
                    TrainSummary s = launch(sc, attemptSettings, world,
                            new BarrierRank(attemptSettings, secret, progressToken, driverHost, server.port(), attempt,
                                    attemptId), attempt);
                    server.drain(s.steps());
                    ProfileFiles.merge(attemptSettings, sc.hadoopConfiguration(), world, console);
                    if (s.progressDropped() > 0) {
                        console.println("omnispark: progress lost: rank 0 could not deliver " + s.progressDropped()
                                + " progress lines; the console and metrics.jsonl miss the steps among them");
                    }
                    TrainSummary summary = seen.isEmpty()
                            ? new TrainSummary(s.steps(), s.initialLoss(), s.finalLoss(), s.tokensPerSecond(),
                                    s.dataWaitFraction(), s.outputDir(), s.hfDir(), s.adapterDir(), world, attempt, s.progressDropped())
                            : new TrainSummary(s.steps(), seen.initialLoss(), s.finalLoss(), seen.tokensPerSecond(),
                                    seen.dataWaitFraction(), s.outputDir(), s.hfDir(), s.adapterDir(), world, attempt,
                                    s.progressDropped());
                    record.finished(summary);
                    return summary;
                } catch (Exception e) {
                    List<Integer> stillRunning = tasks.awaitEnded(endWaitMs);
                    Exception cause = rootCause(tasks, e, world);
                    if (!stillRunning.isEmpty()) {
                        cause = new IllegalStateException("attempt " + (attempt + 1) + " failed ("
                                + rootMessage(cause) + ") and its rank(s) " + stillRunning + " are still running "
                                + endWaitMs / 1000 + " s later; not relaunching while they could still write checkpoints",
                                cause);
                    }
                    if (!stillRunning.isEmpty() || attempt >= maxRestarts || isConfigError(cause)) {
                        try {
                            record.failed(cause);
                        } catch (java.io.IOException io) {
                            cause.addSuppressed(io);
                        }
                        throw cause;
                    }
                    record.restart(attempt + 1, cause);
                    console.println("omnispark: attempt " + (attempt + 1) + " failed (" + rootMessage(cause)
                            + "); relaunching from the latest checkpoint, restart " + (attempt + 1) + " of "
                            + maxRestarts);
                    attemptSettings = attemptSettings.with("train.load_checkpoint_path", "auto");
                } finally {
                    sc.removeSparkListener(tasks);
                    sc.clearJobGroup();
                }
            }
        } finally {
            try {
                metrics.close();
            } finally {
                if (tensorboard != null) {
                    tensorboard.close();
                }
            }
        }
    }

    /**
     * The failure to report for a failed attempt: the first failing rank's own exception (see
     * {@link AttemptTasks#rootFailure}) with Spark's as its cause, or Spark's when no task failed.
     */
    private static Exception rootCause(AttemptTasks tasks, Exception sparkFailure, int world) {
        AttemptTasks.Failure root = tasks.rootFailure();
        if (root == null) {
            return sparkFailure;
        }
        String message = root.className().equals(RankFailure.class.getName()) ? root.description()
                : "rank " + root.rank() + " of " + world + ": " + root.className() + ": " + root.description();
        return new RankFailure(message, sparkFailure);
    }

    private static TrainSummary launch(SparkContext sc, Settings settings, int world, BarrierRank body, int attempt)
            throws Exception {
        List<Integer> slots = new ArrayList<>();
        for (int i = 0; i < world; i++) {
            slots.add(i);
        }
        JavaRDD<Integer> ranks = new JavaSparkContext(sc).parallelize(slots, world);
        Object results = ranks.rdd().barrier()
                .mapPartitions(body, false, ClassTag$.MODULE$.apply(String.class))
                .collect();
        for (String line : (String[]) results) {
            if (!line.isEmpty()) {
                JsonNode o = JSON.readTree(line);
                return new TrainSummary(o.get("steps").asLong(), o.get("initial_loss").asDouble(),
                        o.get("final_loss").asDouble(), o.get("tokens_per_s").asDouble(),
                        o.get("data_wait_fraction").asDouble(), o.get("output_dir").asText(),
                        o.get("hf_dir").isNull() ? null : o.get("hf_dir").asText(),
                        o.path("adapter_dir").isTextual() ? o.get("adapter_dir").asText() : null, world, attempt,
                        o.path("progress_dropped").asLong());
            }
        }
        throw new IllegalStateException("rank 0 returned no summary");
    }

    /** {@code train.world_size}, where 0 means every task slot (2 when this driver runs Spark locally). */
    private int worldSize(SparkContext sc) {
        int configured = JobConfig.from(settings).train().worldSize();
        if (configured > 0) {
            return configured;
        }
        return sc.isLocal() ? Math.min(2, slots(sc)) : slots(sc);
    }

    private static int slots(SparkContext sc) {
        try {
            return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
        } catch (RuntimeException e) {
            return sc.defaultParallelism();
        }
    }

    private static void checkCluster(SparkContext sc, int world) {
        GpuRanks.check(sc.getConf(), world);
        if (sc.getConf().getBoolean("spark.dynamicAllocation.enabled", false)) {
            throw new ConfigException("spark.dynamicAllocation.enabled is true; a barrier stage needs a fixed set of "
                    + "executors: set it to false");
        }
        int slots = slots(sc);
        // Executors of a cluster register after the driver starts: give them a minute.
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (slots < world && !sc.isLocal() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            slots = slots(sc);
        }
        if (slots < world) {
            throw new ConfigException("train.world_size is " + world + " but the cluster has " + slots
                    + " task slots (executors x cores / spark.task.cpus); a barrier stage needs one per rank");
        }
    }

    /** True when {@code e} or a cause is a {@link ConfigException}, also one a Spark task failed with. */
    public static boolean isConfigError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConfigException) {
                return true;
            }
            if (t.getMessage() != null && t.getMessage().contains("ConfigException")) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        if (e instanceof RankFailure) {
            // already the root: its cause is only Spark's report of it
            return e.getMessage().lines().findFirst().orElse(e.getMessage());
        }
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        return m.lines().findFirst().orElse(m);
    }
}
