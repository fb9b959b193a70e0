package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.TrainSummary;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code OUTPUT_DIR/run.json}: what {@code bin/omnispark report} needs beyond the metrics, kept by
 * the driver: the settings the run used, when it started, each restart and why, and how it ended.
 * Rewritten whole at each change, through the Hadoop FileSystem.
 */
final class RunRecord {
    static final String FILE_NAME = "run.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FileSystem fs;
    private final Path file;
    private final ObjectNode root = JSON.createObjectNode();

    private RunRecord(FileSystem fs, Path file) {
        this.fs = fs;
        this.file = file;
    }

    static RunRecord start(Settings settings, int worldSize, Configuration conf) throws IOException {
        Path dir = new Path(JobConfig.from(settings).train().outputDir());
        RunRecord r = new RunRecord(dir.getFileSystem(conf), new Path(dir, FILE_NAME));
        r.root.put("status", "running");
        r.root.put("started_at", Instant.now().toString());
        r.root.put("world_size", worldSize);
        r.root.put("config_source", settings.source());
        r.root.set("config", JSON.valueToTree(settings.asMap()));
        r.root.putArray("restarts");
        r.write();
        return r;
    }

    synchronized void restart(int attempt, Throwable cause) throws IOException {
        root.withArray("restarts").addObject().put("attempt", attempt).put("at", Instant.now().toString())
                .put("reason", describe(cause));
        write();
    }

    synchronized void finished(TrainSummary summary) throws IOException {
        root.put("status", "finished");
        root.put("ended_at", Instant.now().toString());
        root.set("summary", JSON.readTree(summary.toJsonLine()));
        write();
    }

    synchronized void failed(Throwable cause) throws IOException {
        root.put("status", "failed");
        root.put("ended_at", Instant.now().toString());
        root.put("error", describe(cause));
        write();
    }

    /**
     * The root cause's message without stack frames. Spark wraps a task's failure in a message
     * that starts with its own words and carries the task's exception further down, so the
     * first line alone would not say why.
     */
    static String describe(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.toString() : t.getMessage();
        String text = String.join("\n", m.lines().filter(l -> !l.startsWith("\tat ") && !l.startsWith("\t...")
                && !l.isBlank()).limit(6).toList());
        return text.length() > 1000 ? text.substring(0, 1000) + "..." : text;
    }

    private void write() throws IOException {
        try (OutputStream out = fs.create(file, true)) {
            out.write(root.toPrettyString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }
}
