package ai.omnispark.data.media;

import java.io.IOException;

/**
 * A medium over one of the {@link MediaOptions} limits: found from its header before it was
 * decoded, or while decoding a video whose header understated its frames.
 */
public final class MediaTooLargeException extends IOException {
    public MediaTooLargeException(String message) {
        super(message);
    }
}
