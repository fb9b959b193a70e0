package ai.omnispark.parallel.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Checks that a committed {@code global_step_N} can be loaded before any rank loads it: both
 * indexes parse, every rank's extra state parses, and every shard file the indexes list has the
 * size and CRC-32 recorded at save time. The CRC is our own, streamed over the file; Hadoop's
 * {@code .crc} side files exist only on local and HDFS-like stores (not on S3A), so they are never
 * relied on.
 */
public final class CheckpointVerifier {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CheckpointVerifier() {}

    /** Null if {@code dir} verifies, else what is wrong with it, naming the file. */
    public static String problem(FileSystem fs, Path dir) {
        try {
            verify(fs, dir);
            return null;
        } catch (IOException | RuntimeException e) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
    }

    /** Throws an {@link IOException} naming the first file of {@code dir} that does not verify. */
    public static void verify(FileSystem fs, Path dir) throws IOException {
        int world = -1;
        for (String kind : List.of(CheckpointPaths.MODEL, CheckpointPaths.OPTIMIZER)) {
            Path indexFile = new Path(new Path(dir, kind), CheckpointPaths.INDEX);
            JsonNode index = readJson(fs, indexFile);
            if (!CheckpointIndex.FORMAT.equals(index.path("format").asText())) {
                throw new IOException("checkpoint file " + indexFile + " is not an " + CheckpointIndex.FORMAT
                        + " index (format '" + index.path("format").asText() + "')");
            }
            world = index.path("world_size").asInt(-1);
            JsonNode files = index.path("files");
            if (world < 1 || !files.isObject() || files.size() != world) {
                throw new IOException("checkpoint file " + indexFile + " lists " + files.size() + " files for "
                        + world + " ranks");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = files.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> f = it.next();
                ShardFiles.verify(fs, new Path(new Path(dir, kind), f.getKey()), f.getValue().path("bytes").asLong(-1),
                        f.getValue().path("crc32").asLong(-1));
            }
        }
        for (int r = 0; r < world; r++) {
            readJson(fs, new Path(new Path(dir, CheckpointPaths.EXTRA_STATE), CheckpointPaths.extraStateFile(r)));
        }
    }

    static JsonNode readJson(FileSystem fs, Path file) throws IOException {
        if (!fs.exists(file)) {
            throw new IOException("checkpoint file " + file + " is missing");
        }
        try (InputStream in = fs.open(file)) {
            JsonNode node = JSON.readTree(in);
            if (node == null || !node.isObject()) {
                throw new IOException("checkpoint file " + file + " is not valid JSON: no object");
            }
            return node;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("checkpoint file " + file + " is not valid JSON: " + e.getOriginalMessage());
        }
    }
}
