package ai.omnispark.data.pipeline;

import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * The tokenizer a config names: the byte tokenizer when {@code tokenizer_path} is empty, else the
 * {@code tokenizer.json} at that path (or in that folder), read through the Hadoop FileSystem so
 * executors find it on HDFS or S3 as well as locally.
 */
final class TokenizerLoader {
    private TokenizerLoader() {}

    static Tokenizer load(PrepareConfig config, Configuration conf) throws IOException {
        if (config.tokenizerPath() == null || config.tokenizerPath().isBlank()) {
            return new ByteTokenizer();
        }
        Path file = file(config.tokenizerPath(), conf);
        try (InputStream in = file.getFileSystem(conf).open(file)) {
            return HfTokenizer.load(in.readAllBytes(), file.toString());
        }
    }

    /** Path, size and modification time of the tokenizer file, for the fingerprint; empty for the byte tokenizer. */
    static String describe(PrepareConfig config, Configuration conf) throws IOException {
        if (config.tokenizerPath() == null || config.tokenizerPath().isBlank()) {
            return "byte";
        }
        Path file = file(config.tokenizerPath(), conf);
        FileStatus status = file.getFileSystem(conf).getFileStatus(file);
        return status.getPath() + "|" + status.getLen() + "|" + status.getModificationTime();
    }

    private static Path file(String path, Configuration conf) throws IOException {
        Path p = new Path(path);
        if (p.getFileSystem(conf).getFileStatus(p).isDirectory()) {
            p = new Path(p, "tokenizer.json");
        }
        return p;
    }

    static void close(Tokenizer tokenizer) {
        if (tokenizer instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception ignored) {
                // Freeing a tokenizer's native handle cannot lose data.
            }
        }
    }
}
