package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.MetricsLog;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code OUTPUT_DIR/metrics.jsonl} through the Hadoop FileSystem (so on HDFS and S3 too): one JSON
 * object per step, flushed as it comes. A relaunched attempt repeats the steps after its checkpoint;
 * on close the file is rewritten with one line per step, the latest attempt's.
 */
final class MetricsFile implements StepListener, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FileSystem fs;
    private final Path file;
    private final Map<Long, String> lines = new TreeMap<>();
    private FSDataOutputStream out;

    private MetricsFile(FileSystem fs, Path file) {
        this.fs = fs;
        this.file = file;
    }

    static MetricsFile open(Settings settings, Configuration conf, boolean keepExisting) throws IOException {
        Path dir = new Path(JobConfig.from(settings).train().outputDir());
        FileSystem fs = dir.getFileSystem(conf);
        fs.mkdirs(dir);
        MetricsFile m = new MetricsFile(fs, new Path(dir, "metrics.jsonl"));
        if (keepExisting && fs.exists(m.file)) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(m.file), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!line.isBlank()) {
                        m.lines.put(JSON.readTree(line).path("step").asLong(), line);
                    }
                }
            }
        }
        m.rewrite();
        return m;
    }

    private void rewrite() throws IOException {
        if (out != null) {
            out.close();
        }
        out = fs.create(file, true);
        for (String line : lines.values()) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        out.hflush();
    }

    @Override
    public synchronized void onStep(StepResult result, long totalSteps) {
        try {
            String line = JSON.writeValueAsString(MetricsLog.toJson(result));
            lines.put(result.step(), line);
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.hflush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        rewrite();
        out.close();
    }
}
