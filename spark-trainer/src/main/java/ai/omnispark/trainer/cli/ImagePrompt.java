package ai.omnispark.trainer.cli;

import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.trainer.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * An image and a text prompt as one decoding row, laid out as the prepare step lays out an
 * image-text record ({@code SampleBuilder}): vision_start, one placeholder per merged patch,
 * vision_end (the markers when the model's config.json names vision_start_token_id, as training
 * turns them on), then the text's tokens. The image is decoded and resized by the prepare step's
 * {@link ImageDecoder} (SmartResize to multiples of patch_size · spatial_merge_size, the default
 * data.min_pixels / data.max_pixels), so the model sees what training showed it.
 */
final class ImagePrompt {
    private final int imageTokenId;
    /** vision_start and vision_end, or null when the model's config names none. */
    private final int[] markers;
    private final MediaOptions media;

    private ImagePrompt(int imageTokenId, int[] markers, MediaOptions media) {
        this.imageTokenId = imageTokenId;
        this.markers = markers;
        this.media = media;
    }

    /** The layout of the model in {@code modelDir}, from its config.json; a clear error when it takes no images. */
    static ImagePrompt of(Path modelDir) throws IOException {
        JsonNode config = ModelFamilies.readConfig(modelDir);
        JsonNode vision = config.path("vision_config");
        if (!config.has("image_token_id") || !vision.isObject()) {
            throw new ConfigException(modelDir + " is a " + config.path("model_type").asText("?")
                    + " model without image_token_id and vision_config in its config.json: it takes no --image");
        }
        MediaOptions d = MediaOptions.DEFAULTS;
        MediaOptions media = new MediaOptions(vision.path("patch_size").asInt(d.patchSize()),
                vision.path("spatial_merge_size").asInt(d.mergeSize()), d.minPixels(), d.maxPixels(), d.fps(),
                d.maxFrames(), vision.path("temporal_patch_size").asInt(d.temporalPatchSize()));
        int[] markers = config.has("vision_start_token_id")
                ? new int[] {config.get("vision_start_token_id").asInt(), config.path("vision_end_token_id").asInt(-1)}
                : null;
        if (markers != null && markers[1] < 0) {
            throw new ConfigException(modelDir + "/config.json names vision_start_token_id but no vision_end_token_id");
        }
        return new ImagePrompt(config.get("image_token_id").asInt(), markers, media);
    }

    /** The row of the encoded image {@code imageBytes} (PNG, JPEG, ...) followed by {@code text}. */
    Sample sample(byte[] imageBytes, int[] text, String what) {
        Media m;
        try {
            m = new ImageDecoder(media).decode(imageBytes);
        } catch (IOException e) {
            throw new ConfigException(what + ": not a readable image: " + e.getMessage(), e);
        }
        int placeholders = media.tokens(m.frames(), m.height(), m.width());
        int extra = markers == null ? 0 : 2;
        int[] ids = new int[extra + placeholders + text.length];
        int at = 0;
        if (markers != null) {
            ids[at++] = markers[0];
        }
        Arrays.fill(ids, at, at + placeholders, imageTokenId);
        at += placeholders;
        if (markers != null) {
            ids[at++] = markers[1];
        }
        System.arraycopy(text, 0, ids, at, text.length);
        return withIds(new Sample(SampleLayout.TOKENS_WITH_MEDIA, Map.of(Sample.INPUT_IDS, ids,
                Sample.PIXEL_VALUES, List.of(m.pixels()),
                Sample.MEDIA_SHAPES, new int[][] {{m.frames(), m.height(), m.width(), m.channels()}},
                Sample.MEDIA_DOC_IDS, new int[] {0})), ids);
    }

    /**
     * {@code row} with its token columns replaced by {@code ids} as one document at positions
     * 0..n-1 taking no loss; its media (if any) kept.
     */
    static Sample withIds(Sample row, int[] ids) {
        int n = ids.length;
        int[] labels = new int[n];
        int[] positions = new int[n];
        Arrays.fill(labels, Sample.IGNORE);
        Arrays.setAll(positions, i -> i);
        Map<String, Object> columns = new java.util.HashMap<>(row.columns());
        columns.put(Sample.INPUT_IDS, ids.clone());
        columns.put(Sample.LABELS, labels);
        columns.put(Sample.POSITION_IDS, positions);
        columns.put(Sample.DOC_IDS, new int[n]);
        return new Sample(row.layout(), columns);
    }
}
