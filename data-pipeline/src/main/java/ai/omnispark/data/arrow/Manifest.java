package ai.omnispark.data.arrow;

import ai.omnispark.models.api.SampleLayout;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code manifest.json}: what a prepared dataset holds and how it was made. It is written last,
 * so a directory without one is not a dataset; the fingerprint lets a rerun with the same inputs
 * and preprocessing skip the work.
 *
 * @param sampleLayout what a row holds, as {@link SampleLayout#key()}: {@code tokens}, or
 *     {@code tokens_with_media} when the shards carry media columns, {@code latents} for latent
 *     shards (video_latent); a manifest written before the
 *     field existed gets the one its schema implies
 * @param schema the Arrow schema of every shard, in Arrow's JSON form
 * @param rejectedByReason rejected input records per reason (see the rejects under {@code rejected/})
 * @param config the preprocessing settings that went into the fingerprint
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Manifest(
        @JsonProperty("format_version") int formatVersion,
        @JsonProperty("fingerprint") String fingerprint,
        @JsonProperty("data_type") String dataType,
        @JsonProperty("sample_layout") String sampleLayout,
        @JsonProperty("max_seq_len") int maxSeqLen,
        @JsonProperty("rows_per_batch") int rowsPerBatch,
        @JsonProperty("input_records") long inputRecords,
        @JsonProperty("rows") long rows,
        @JsonProperty("documents") long documents,
        @JsonProperty("tokens") long tokens,
        @JsonProperty("images") long images,
        @JsonProperty("videos") long videos,
        @JsonProperty("frames") long frames,
        @JsonProperty("rejected") long rejected,
        @JsonProperty("rejected_by_reason") Map<String, Long> rejectedByReason,
        @JsonProperty("shards") List<ShardInfo> shards,
        @JsonProperty("schema") JsonNode schema,
        @JsonProperty("config") Map<String, Object> config) {

    public static final String FILE_NAME = "manifest.json";
    public static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @JsonCreator
    public Manifest {
        sampleLayout = sampleLayout == null ? layoutOf(schema).key() : SampleLayout.parse(sampleLayout).key();
    }

    /** A manifest whose layout is the one its schema implies (media columns or not). */
    public Manifest(int formatVersion, String fingerprint, String dataType, int maxSeqLen, int rowsPerBatch,
            long inputRecords, long rows, long documents, long tokens, long images, long videos, long frames,
            long rejected, Map<String, Long> rejectedByReason, List<ShardInfo> shards, JsonNode schema,
            Map<String, Object> config) {
        this(formatVersion, fingerprint, dataType, null, maxSeqLen, rowsPerBatch, inputRecords, rows, documents,
                tokens, images, videos, frames, rejected, rejectedByReason, shards, schema, config);
    }

    /** What every row of this dataset holds. */
    @JsonIgnore
    public SampleLayout layout() {
        return SampleLayout.parse(sampleLayout);
    }

    /** The layout the shard schema implies: media columns make it tokens_with_media, latent columns latents. */
    @JsonIgnore
    public SampleLayout schemaLayout() {
        return layoutOf(schema);
    }

    private static SampleLayout layoutOf(JsonNode schema) {
        if (schema != null) {
            for (JsonNode field : schema.path("fields")) {
                if (ShardSchema.PIXEL_VALUES.equals(field.path("name").asText())) {
                    return SampleLayout.TOKENS_WITH_MEDIA;
                }
                if (ShardSchema.LATENTS.equals(field.path("name").asText())) {
                    return SampleLayout.LATENTS;
                }
            }
        }
        return SampleLayout.TOKENS;
    }

    public static JsonNode schemaJson(Schema schema) {
        try {
            return JSON.readTree(schema.toJson());
        } catch (IOException e) {
            throw new IllegalStateException("Arrow produced unreadable schema JSON", e);
        }
    }

    public Schema arrowSchema() {
        try {
            return Schema.fromJSON(JSON.writeValueAsString(schema));
        } catch (IOException e) {
            throw new IllegalStateException("manifest schema is not an Arrow schema: " + e.getMessage(), e);
        }
    }

    /** The manifest of {@code dir}, or empty when there is none (not prepared, or not finished). */
    public static Optional<Manifest> read(FileSystem fs, Path dir) throws IOException {
        Path file = new Path(dir, FILE_NAME);
        try (InputStream in = fs.open(file)) {
            return Optional.of(JSON.readValue(in, Manifest.class));
        } catch (FileNotFoundException e) {
            return Optional.empty();
        }
    }

    /** Writes {@code dir/manifest.json} through a temporary file so readers never see half of it. */
    public void write(FileSystem fs, Path dir) throws IOException {
        Path tmp = new Path(dir, "." + FILE_NAME + ".tmp-" + UUID.randomUUID());
        try (OutputStream out = fs.create(tmp, false)) {
            JSON.writeValue(out, this);
        }
        Path file = new Path(dir, FILE_NAME);
        if (fs.exists(file)) {
            fs.delete(file, false);
        }
        if (!fs.rename(tmp, file)) {
            fs.delete(tmp, false);
            throw new IOException("could not rename " + tmp + " to " + file);
        }
    }

    /** One JSON line, for logs and the CLI. */
    public String summaryLine(String manifestPath) {
        try {
            return new ObjectMapper().writeValueAsString(summary(manifestPath));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The counts a person checks after a prepare run, in the order {@link #summaryLine} prints them. */
    public Map<String, Object> summary(String manifestPath) {
        Map<String, Object> summary = new java.util.LinkedHashMap<>();
        summary.put("event", "prepare_end");
        summary.put("manifest", manifestPath);
        summary.put("data_type", dataType);
        summary.put("sample_layout", sampleLayout);
        summary.put("input_records", inputRecords);
        summary.put("rows", rows);
        summary.put("documents", documents);
        summary.put("tokens", tokens);
        summary.put("images", images);
        summary.put("videos", videos);
        summary.put("frames", frames);
        summary.put("rejected", rejected);
        summary.put("rejected_by_reason", rejectedByReason);
        summary.put("shards", shards.size());
        summary.put("fingerprint", fingerprint);
        return summary;
    }
}
