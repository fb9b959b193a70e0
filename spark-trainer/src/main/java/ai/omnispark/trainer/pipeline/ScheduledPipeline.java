package ai.omnispark.trainer.pipeline;

import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.data.pipeline.PreparePipeline;
import ai.omnispark.data.pipeline.PrepareResult;
import ai.omnispark.data.pipeline.RejectedRecordsException;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.DataPreparation;
import ai.omnispark.trainer.job.TrainSummary;
import ai.omnispark.trainer.job.TrainingData;
import ai.omnispark.trainer.spark.OmniTrainer;
import ai.omnispark.trainer.spark.TrainingJob;
import ai.omnispark.trainer.storage.OutputDirProbe;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code bin/omnispark pipeline CONFIG}: prepare, train, export, for a scheduler. Each step is
 * skipped when its result is already there: the prepare step when the manifest's fingerprint
 * matches, training resumes from the latest checkpoint when {@link PipelineState} says the
 * checkpoints belong to this configuration and data, and a rerun after success starts no Spark
 * at all. The last line printed is one JSON object; the exit status is an {@link ExitCode}.
 */
public final class ScheduledPipeline {
    /** {@code data.train_path} of the synthetic text: written to {@code OUTPUT_DIR/sample/text.jsonl} when missing. */
    static final String SAMPLE_FILE = "sample/text.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrintStream out;
    private final Configuration hadoop;
    private final ObjectNode report = JSON.createObjectNode();
    private final ArrayNode ran;
    private final ArrayNode skipped;
    /** The step under way, named in the report when it fails. */
    private String stage = "config";

    private ScheduledPipeline(Configuration hadoop, PrintStream out) {
        this.hadoop = hadoop;
        this.out = out;
        report.put("event", "pipeline_end");
        ran = report.putArray("ran");
        skipped = report.putArray("skipped");
    }

    /**
     * Runs the chain and prints its log lines and the final JSON line on {@code out}; never throws.
     *
     * @param hadoop the driver's Hadoop settings, for the checks made before any Spark starts
     */
    public static ExitCode run(java.nio.file.Path configFile, List<String> sets, Configuration hadoop,
            PrintStream out) {
        ScheduledPipeline p = new ScheduledPipeline(hadoop, out);
        ExitCode code;
        try {
            code = p.chain(configFile, sets);
        } catch (Exception e) {
            code = classify(e, p.stage);
            p.report.put("status", "failed");
            p.report.put("failed_step", p.stage);
            p.report.put("error", firstLine(e));
            out.println("pipeline: " + p.stage + " failed (" + code.name().toLowerCase(java.util.Locale.ROOT)
                    + ", exit " + code.code() + "): " + firstLine(e));
        }
        p.report.put("exit_code", code.code());
        out.println(p.report.toString());
        return code;
    }

    private ExitCode chain(java.nio.file.Path configFile, List<String> sets) throws Exception {
        Settings settings = Settings.load(configFile, sets);
        JobConfig job = JobConfig.from(settings);
        if (!job.train().saveHfWeights()) {
            throw new ConfigException("the pipeline's export step is OUTPUT_DIR/final_hf, so train.save_hf_weights "
                    + "must stay true");
        }
        String outputDir = job.train().outputDir();
        report.put("output_dir", outputDir);
        stage = "storage";
        OutputDirProbe.check(outputDir, hadoop);
        Path output = new Path(outputDir);
        FileSystem fs = output.getFileSystem(hadoop);
        output = fs.makeQualified(output);

        stage = "sample";
        settings = sampleIfSynthetic(settings, fs, output);
        stage = "prepare";
        PrepareConfig prepareConfig = DataPreparation.config(settings);
        report.put("dataset", prepareConfig.outputPath());
        DataPreparation.checkInput(prepareConfig, hadoop);
        Optional<PrepareResult> current = PreparePipeline.current(prepareConfig, hadoop);
        String configFingerprint = fingerprint(settings);
        Optional<PipelineState> state = PipelineState.read(fs, output);
        Path hf = new Path(output, "final_hf");
        if (current.isPresent() && state.isPresent() && state.get().status().equals(PipelineState.DONE)
                && state.get().sameRun(configFingerprint, current.get().manifest().fingerprint())
                && isHfFolder(fs, hf)) {
            out.println("pipeline: nothing to do: " + prepareConfig.outputPath() + " is up to date and " + hf
                    + " was exported from step " + state.get().steps() + " with this configuration and data");
            skipped.add("prepare").add("train").add("export");
            report.put("status", "up_to_date");
            report.put("steps", state.get().steps());
            report.put("hf_dir", hf.toString());
            return ExitCode.SUCCESS;
        }

        SparkSession spark = TrainingJob.session(settings);
        try {
            PrepareResult prepared = DataPreparation.prepare(spark, settings, out);
            (prepared.skipped() ? skipped : ran).add("prepare");
            String dataFingerprint = prepared.manifest().fingerprint();
            report.put("rows", prepared.rows());

            stage = "train";
            Settings train = settings.with("data.train_path", new Path(prepared.manifestPath()).getParent().toString());
            Path checkpoints = new Path(output, "checkpoints");
            if (Checkpointer.resolve(fs, checkpoints, "auto") != null) {
                if (state.isEmpty() || !state.get().sameRun(configFingerprint, dataFingerprint)) {
                    throw new ConfigException(checkpoints + " holds checkpoints of another configuration or other data "
                            + (state.isEmpty() ? "(no " + PipelineState.FILE_NAME + ")" : "(" + PipelineState.FILE_NAME
                            + " differs)") + "; give this run its own train.output_dir");
                }
                out.println("pipeline: resuming from the latest checkpoint under " + checkpoints);
                train = train.with("train.load_checkpoint_path", "auto");
                report.put("resumed", true);
            }
            new PipelineState(configFingerprint, dataFingerprint, PipelineState.TRAINING, 0, null).write(fs, output);
            report.put("max_restarts", job.train().maxRestarts());
            TrainSummary summary = OmniTrainer.create(train).console(out).fit(spark);
            ran.add("train");
            report.put("steps", summary.steps());
            report.put("restarts", summary.restarts());
            report.put("final_loss", summary.finalLoss());

            // The ranks gather the sharded weights into final_hf as training ends (also when a resume
            // finds the run already at its last step); this step checks it and records it as done.
            stage = "export";
            if (!isHfFolder(fs, hf)) {
                throw new IOException("training ended but " + hf + " has no config.json and model.safetensors");
            }
            ran.add("export");
            new PipelineState(configFingerprint, dataFingerprint, PipelineState.DONE, summary.steps(), hf.toString())
                    .write(fs, output);
            report.put("hf_dir", hf.toString());
            report.put("status", "done");
            return ExitCode.SUCCESS;
        } finally {
            if (System.getProperty("spark.master") == null) {
                spark.stop();
            }
        }
    }

    /**
     * {@code synthetic://text} becomes a real file under the output directory, so that it has a
     * fingerprint like any input; it is written once (to a temporary name, then renamed).
     */
    private Settings sampleIfSynthetic(Settings s, FileSystem fs, Path output) throws IOException {
        JobConfig job = JobConfig.from(s);
        if (!job.data().trainPath().equals(TrainingData.SYNTHETIC_TEXT)) {
            return s;
        }
        Path file = new Path(output, SAMPLE_FILE);
        if (fs.exists(file)) {
            skipped.add("sample");
        } else {
            Path tmp = new Path(file.getParent(), "." + file.getName() + ".tmp");
            try (OutputStream w = fs.create(tmp, true)) {
                for (String text : SyntheticText.documents(job.train().seed(), TrainingData.SYNTHETIC_DOCUMENTS)) {
                    w.write((JSON.writeValueAsString(Map.of("text", text)) + "\n").getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!fs.rename(tmp, file)) {
                throw new IOException("could not rename " + tmp + " to " + file);
            }
            out.println("pipeline: wrote the synthetic text sample to " + file);
            ran.add("sample");
        }
        return s.with("data.train_path", file.toString());
    }

    private static boolean isHfFolder(FileSystem fs, Path dir) throws IOException {
        return fs.exists(new Path(dir, "config.json")) && fs.exists(new Path(dir, "model.safetensors"));
    }

    /**
     * Every setting that shapes the result: not where training resumes from, how often it may
     * restart, or test-only fault injection, so a rerun after a failure matches the failed run.
     */
    static String fingerprint(Settings s) {
        Map<String, Object> values = new TreeMap<>(s.asMap());
        values.remove("train.load_checkpoint_path");
        values.remove("train.max_restarts");
        values.keySet().removeIf(k -> k.startsWith("debug."));
        try {
            byte[] d = MessageDigest.getInstance("SHA-256")
                    .digest(JSON.writeValueAsString(values).getBytes(StandardCharsets.UTF_8));
            return "sha256:" + HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException | IOException e) {
            throw new IllegalStateException("cannot fingerprint the settings", e);
        }
    }

    /**
     * Unreachable hosts first (retrying may help whatever the step), then rejected data, then
     * configuration errors; anything else is a failed training or, outside training, retryable.
     */
    static ExitCode classify(Throwable e, String stage) {
        if (unreachable(e)) {
            return ExitCode.RETRYABLE;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RejectedRecordsException) {
                return ExitCode.DATA_REJECTED;
            }
        }
        if (OmniTrainer.isConfigError(e) || (!stage.equals("train") && e instanceof IllegalArgumentException)) {
            return ExitCode.CONFIG_ERROR;
        }
        return stage.equals("train") ? ExitCode.TRAINING_FAILED : ExitCode.RETRYABLE;
    }

    private static final List<Class<? extends Exception>> UNREACHABLE = List.of(ConnectException.class,
            NoRouteToHostException.class, UnknownHostException.class, SocketTimeoutException.class);

    /** A network failure, also one a Spark task died of (its exception reaches the driver as text). */
    private static boolean unreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (Class<? extends Exception> c : UNREACHABLE) {
                if (c.isInstance(t) || (t.getMessage() != null && t.getMessage().contains(c.getName()))) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }
}
