package ai.omnispark.trainer.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code OUTPUT_DIR/pipeline_state.json}: which configuration and which prepared data the
 * checkpoints under the output directory belong to, and whether the chain finished. A rerun
 * resumes or skips only when both fingerprints match.
 *
 * @param configFingerprint hash of every setting but {@code train.load_checkpoint_path}
 * @param dataFingerprint the prepared dataset's manifest fingerprint
 * @param status {@link #TRAINING} while a run is under way or after it failed, {@link #DONE} after export
 */
record PipelineState(String configFingerprint, String dataFingerprint, String status, long steps, String hfDir) {
    static final String FILE_NAME = "pipeline_state.json";
    static final String TRAINING = "training";
    static final String DONE = "done";

    private static final ObjectMapper JSON = new ObjectMapper();

    boolean sameRun(String config, String data) {
        return configFingerprint.equals(config) && dataFingerprint.equals(data);
    }

    static Optional<PipelineState> read(FileSystem fs, Path outputDir) throws IOException {
        Path file = new Path(outputDir, FILE_NAME);
        if (!fs.exists(file)) {
            return Optional.empty();
        }
        JsonNode o;
        try (InputStream in = fs.open(file)) {
            o = JSON.readTree(in);
        }
        if (o == null || !o.hasNonNull("config_fingerprint") || !o.hasNonNull("data_fingerprint")
                || !o.hasNonNull("status")) {
            throw new IOException(file + " is not a pipeline state (config_fingerprint, data_fingerprint and status "
                    + "are required); delete it to start the pipeline afresh");
        }
        return Optional.of(new PipelineState(o.get("config_fingerprint").asText(), o.get("data_fingerprint").asText(),
                o.get("status").asText(), o.path("steps").asLong(0), o.path("hf_dir").asText(null)));
    }

    /** Written to a temporary name and renamed, so a reader sees the old state or the new one. */
    void write(FileSystem fs, Path outputDir) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("config_fingerprint", configFingerprint);
        o.put("data_fingerprint", dataFingerprint);
        o.put("status", status);
        o.put("steps", steps);
        o.put("hf_dir", hfDir);
        Path file = new Path(outputDir, FILE_NAME);
        Path tmp = new Path(outputDir, "." + FILE_NAME + ".tmp");
        try (OutputStream out = fs.create(tmp, true)) {
            out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o).getBytes(StandardCharsets.UTF_8));
        }
        if (fs.exists(file)) {
            fs.delete(file, false);
        }
        if (!fs.rename(tmp, file)) {
            throw new IOException("could not rename " + tmp + " to " + file);
        }
    }
}
