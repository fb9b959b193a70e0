package ai.omnispark.trainer.tensorboard;

import ai.omnispark.trainer.job.MetricsLog;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code train.tensorboard_dir}: every step's metrics as TensorBoard scalars under {@code train/},
 * one tag per numeric field of {@link MetricsLog} (loss, lr, grad_norm, tokens_per_s, ...), so a
 * loss term added there shows up here too. Each run (and each driver) writes its own event file,
 * through the Hadoop FileSystem, so the directory may be on HDFS or S3 as TensorBoard allows.
 */
public final class TensorBoardLog implements StepListener, AutoCloseable {
    public static final String TAG_PREFIX = "train/";

    private final Path file;
    private final EventFileWriter writer;

    private TensorBoardLog(Path file, EventFileWriter writer) {
        this.file = file;
        this.writer = writer;
    }

    /** Creates {@code dir} and a new event file in it. */
    public static TensorBoardLog open(String dir, Configuration conf) throws IOException {
        Path d = new Path(dir);
        FileSystem fs = d.getFileSystem(conf);
        if (fs instanceof LocalFileSystem local) {
            // The checksummed local file system leaves a .events...crc beside the file, which
            // TensorBoard would take for a second, corrupt event file (it reads every *tfevents*).
            fs = local.getRawFileSystem();
        }
        d = fs.makeQualified(d);
        fs.mkdirs(d);
        long now = System.currentTimeMillis();
        Path file = new Path(d, "events.out.tfevents." + now / 1000 + "." + host() + "." + ProcessHandle.current().pid());
        return new TensorBoardLog(file, new EventFileWriter(fs.create(file, false), now / 1000.0));
    }

    public Path file() {
        return file;
    }

    /** The scalars of one step: {@code train/NAME} for every numeric field but the step itself. */
    public static Map<String, Double> scalars(StepResult r) {
        ObjectNode json = MetricsLog.toJson(r);
        Map<String, Double> values = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("step") && e.getValue().isNumber()) {
                values.put(TAG_PREFIX + e.getKey(), e.getValue().asDouble());
            }
        }
        return values;
    }

    @Override
    public synchronized void onStep(StepResult result, long totalSteps) {
        try {
            writer.scalars(result.step(), System.currentTimeMillis() / 1000.0, scalars(result));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    @Override
    public synchronized void close() throws IOException {
        writer.close();
    }
}
