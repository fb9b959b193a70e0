package ai.omnispark.data.media;

import java.io.IOException;

/** A medium over one of the {@link MediaOptions} limits, found before it was decoded. */
public final class MediaTooLargeException extends IOException {
    public MediaTooLargeException(String message) {
        super(message);
    }
}
