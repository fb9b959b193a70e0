package ai.omnispark.data.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Counts rejected records per reason and writes each as a JSON line
 * {@code {"reason", "detail", "source", "record"}}. The file is created on the first reject, so a
 * clean partition leaves nothing behind.
 */
final class RejectWriter implements AutoCloseable {
    private static final int MAX_RECORD_CHARS = 10_000;

    private final FileSystem fs;
    private final Path path;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<String, Long> counts = new TreeMap<>();
    private OutputStream out;

    RejectWriter(FileSystem fs, Path path) {
        this.fs = fs;
        this.path = path;
    }

    void reject(RejectReason reason, String detail, String source, String record) throws IOException {
        counts.merge(reason.key(), 1L, Long::sum);
        if (out == null) {
            out = fs.create(path, true);
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("reason", reason.key());
        line.put("detail", detail);
        line.put("source", source);
        line.put("record", record == null || record.length() <= MAX_RECORD_CHARS ? record
                : record.substring(0, MAX_RECORD_CHARS) + "...");
        out.write(json.writeValueAsString(line).getBytes(StandardCharsets.UTF_8));
        out.write('\n');
    }

    Map<String, Long> counts() {
        return counts;
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            out.close();
        }
    }
}
