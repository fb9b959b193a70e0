package ai.omnispark.trainer.data;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.trainer.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The driver's check that a model family can take a dataset's rows, made before any rank starts:
 * a text model pointed at image shards fails here, naming both, instead of in its first batch.
 */
public final class SampleLayouts {
    /** The special token ids a vision-language model's config.json and a media dataset's manifest must share. */
    private static final List<String> MEDIA_TOKEN_KEYS = List.of("image_token_id", "video_token_id",
            "vision_start_token_id", "vision_end_token_id");

    private SampleLayouts() {}

    /** The layout the manifest of the prepared dataset at {@code dataset} declares (or its schema implies). */
    public static SampleLayout of(FileSystem fs, Path dataset) throws IOException {
        return Manifest.read(fs, dataset).orElseThrow(() -> new IOException(dataset + " has no "
                + Manifest.FILE_NAME + ": it is not a prepared dataset, or preparing it did not finish")).layout();
    }

    /**
     * Throws a {@link ConfigException} when a media dataset's placeholder or vision-marker ids
     * ({@code prepared}: its manifest's {@code config}) differ from those the model's config.json
     * names, or the model names a marker the dataset was prepared without: the model would embed
     * the wrong tokens or find no media for its M-RoPE. Keys the model does not name are not checked.
     */
    public static void checkMediaTokens(String dataset, Map<String, Object> prepared, JsonNode model) {
        for (String key : MEDIA_TOKEN_KEYS) {
            if (!model.path(key).isIntegralNumber()) {
                continue;
            }
            int wanted = model.get(key).asInt();
            Object have = prepared.get(key);
            if (!(have instanceof Number n)) {
                throw new ConfigException("dataset " + dataset + " was prepared without " + key + " but the model's "
                        + "config.json names " + key + "=" + wanted + " (prepare it again with data.vision_markers: "
                        + "true or auto)");
            }
            if (n.longValue() != wanted) {
                throw new ConfigException("dataset " + dataset + " was prepared with " + key + "=" + n
                        + " but the model's config.json names " + key + "=" + wanted
                        + " (prepare it again with the model's ids: data.* token ids -1 take them from the model)");
            }
        }
    }

    /**
     * Throws a {@link ConfigException} naming the dataset, its layout and the family when
     * {@code accepted} (the layouts the family's collator takes) lacks {@code layout}.
     */
    public static void check(String dataset, SampleLayout layout, String family, Set<SampleLayout> accepted) {
        if (accepted.isEmpty()) {
            throw new IllegalArgumentException("the " + family + " family declares no sample layout it takes");
        }
        if (!accepted.contains(layout)) {
            TreeSet<String> keys = new TreeSet<>();
            accepted.forEach(l -> keys.add(l.key()));
            throw new ConfigException("dataset " + dataset + " holds " + layout.key() + " rows; the " + family
                    + " family takes only " + keys + " (point data.train_path at such a dataset, or train a model"
                    + " whose family takes " + layout.key() + ")");
        }
    }
}
