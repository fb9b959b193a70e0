package ai.omnispark.trainer.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.hadoop.fs.ContentSummary;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * What {@code bin/omnispark report RUN_DIR} shows, read from a run's output folder (any Hadoop
 * file system): {@code metrics.jsonl}, {@code run.json} (settings, restarts, summary), the
 * checkpoints, and a few media inputs. {@link #write} puts {@code report.html} beside them.
 */
public final class RunReport {
    public static final String FILE_NAME = "report.html";

    /** One committed {@code global_step_N}. */
    record Checkpoint(long step, long bytes, Instant modified, boolean hasHf) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    final Path runDir;
    final ArrayNode metrics;
    /** run.json, or a missing node for runs from before it existed. */
    final JsonNode run;
    final List<Checkpoint> checkpoints;
    final MediaSamples.Result media;

    private RunReport(Path runDir, ArrayNode metrics, JsonNode run, List<Checkpoint> checkpoints,
            MediaSamples.Result media) {
        this.runDir = runDir;
        this.metrics = metrics;
        this.run = run;
        this.checkpoints = checkpoints;
        this.media = media;
    }

    public static RunReport read(FileSystem fs, Path runDir) throws IOException {
        Path metricsFile = new Path(runDir, "metrics.jsonl");
        if (!fs.exists(metricsFile)) {
            throw new IllegalArgumentException(runDir + " has no metrics.jsonl: give the train.output_dir of a run");
        }
        ArrayNode metrics = JSON.createArrayNode();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(metricsFile), StandardCharsets.UTF_8))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    metrics.add(JSON.readTree(line));
                } catch (IOException e) {
                    throw new IOException(metricsFile + " line " + n + " is not JSON: " + e.getMessage(), e);
                }
            }
        }
        JsonNode run = MissingNode.getInstance();
        Path runFile = new Path(runDir, "run.json");
        if (fs.exists(runFile)) {
            try (InputStream in = fs.open(runFile)) {
                run = JSON.readTree(in);
            }
        }
        MediaSamples.Result media = run.has("config") ? MediaSamples.of(fs, run.get("config"))
                : new MediaSamples.Result(List.of(), "not known: the run has no run.json recording its data");
        return new RunReport(runDir, metrics, run, checkpoints(fs, new Path(runDir, "checkpoints")), media);
    }

    private static List<Checkpoint> checkpoints(FileSystem fs, Path dir) throws IOException {
        List<Checkpoint> out = new ArrayList<>();
        if (!fs.exists(dir)) {
            return out;
        }
        for (FileStatus s : fs.listStatus(dir)) {
            String name = s.getPath().getName();
            if (!s.isDirectory() || !name.matches("global_step_\\d+")) {
                continue;
            }
            ContentSummary size = fs.getContentSummary(s.getPath());
            out.add(new Checkpoint(Long.parseLong(name.substring("global_step_".length())), size.getLength(),
                    Instant.ofEpochMilli(s.getModificationTime()), fs.exists(new Path(s.getPath(), "hf_ckpt"))));
        }
        out.sort(Comparator.comparingLong(Checkpoint::step));
        return out;
    }

    /** Writes {@code RUN_DIR/report.html} and returns its path. */
    public Path write(FileSystem fs) throws IOException {
        Path file = new Path(runDir, FILE_NAME);
        try (OutputStream out = fs.create(file, true)) {
            out.write(ReportPage.html(this).getBytes(StandardCharsets.UTF_8));
        }
        return file;
    }
}
