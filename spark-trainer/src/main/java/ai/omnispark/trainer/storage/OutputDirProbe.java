package ai.omnispark.trainer.storage;

import ai.omnispark.trainer.config.ConfigException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Proves before launch that the driver can create and write {@code train.output_dir}, so that a
 * wrong host, bucket or permission is one clear message instead of a failure inside every rank.
 */
public final class OutputDirProbe {
    private OutputDirProbe() {}

    public static void check(String outputDir, Configuration hadoop) {
        if (outputDir == null || outputDir.isBlank()) {
            throw new ConfigException("train.output_dir is not set");
        }
        Path dir;
        try {
            dir = new Path(outputDir);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("train.output_dir '" + outputDir + "' is not a valid path: " + e.getMessage());
        }
        // A private instance with few retries: the cached one keeps the job's retry settings, and an
        // unreachable host should fail in seconds, not after a client's minutes of retries.
        Configuration quick = new Configuration(hadoop);
        quick.setInt("ipc.client.connect.max.retries", 1);
        quick.setInt("ipc.client.connect.max.retries.on.timeouts", 1);
        quick.setInt("ipc.client.connect.timeout", 5_000);
        quick.setInt("fs.s3a.attempts.maximum", 1);
        quick.setInt("fs.s3a.retry.limit", 1);
        quick.set("fs.s3a.connection.establish.timeout", "5000");
        Path probe = new Path(dir, ".omnispark-probe-" + UUID.randomUUID());
        try (FileSystem fs = FileSystem.newInstance(dir.toUri(), quick)) {
            if (fs.exists(dir) && !fs.getFileStatus(dir).isDirectory()) {
                throw new ConfigException("train.output_dir " + outputDir + " is a file, not a directory");
            }
            fs.mkdirs(dir);
            try (OutputStream out = fs.create(probe, true)) {
                out.write(1);
            }
            fs.delete(probe, false);
        } catch (ConfigException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ConfigException("train.output_dir " + outputDir + " is not writable from the driver: "
                    + e.getClass().getSimpleName() + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "(no message)";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
