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
    UNDECODABLE_VIDEO;

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }
}
