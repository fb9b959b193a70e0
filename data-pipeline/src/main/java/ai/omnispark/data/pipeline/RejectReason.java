package ai.omnispark.data.pipeline;

import java.util.Locale;

/** Why an input record did not become a document. */
public enum RejectReason {
    MALFORMED_JSON,
    MISSING_COLUMN,
    EMPTY_TEXT,
    BAD_MESSAGES,
    TOO_LONG,
    MISSING_FILE,
    /** Over {@code data.max_media_bytes}, {@code data.max_decoded_pixels} or {@code data.max_video_frames}. */
    MEDIA_TOO_LARGE,
    UNDECODABLE_IMAGE,
    UNDECODABLE_VIDEO,
    /**
     * A video_latent tensor of the wrong shape, not a rectangular array of numbers, or a
     * safetensors reference that cannot be read as float32.
     */
    BAD_TENSOR;

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }
}
