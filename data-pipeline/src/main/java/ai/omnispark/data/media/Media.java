package ai.omnispark.data.media;

import java.io.Serializable;

/**
 * One decoded image or video, uint8 pixels laid out frames × height × width × channels (an image
 * has one frame). Normalisation is left to the rank, so the shard keeps the exact source bytes.
 *
 * @param docIndex the document of the packed row this media belongs to (its {@code doc_ids} value)
 */
public record Media(byte[] pixels, int frames, int height, int width, int channels, int docIndex)
        implements Serializable {
    public Media {
        long expected = (long) frames * height * width * channels;
        if (pixels.length != expected) {
            throw new IllegalArgumentException("media of shape " + frames + "x" + height + "x" + width
                    + "x" + channels + " needs " + expected + " bytes, got " + pixels.length);
        }
    }

    public boolean isVideo() {
        return frames > 1;
    }

    public Media withDocIndex(int index) {
        return new Media(pixels, frames, height, width, channels, index);
    }
}
