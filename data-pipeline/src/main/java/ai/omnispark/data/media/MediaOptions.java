package ai.omnispark.data.media;

import java.io.Serializable;

/**
 * How images and videos are sized and sampled, and how much untrusted media may cost. Defaults
 * follow Qwen2-VL: 14-pixel patches merged 2×2, so each side is a multiple of 28 and one
 * placeholder token stands for 28×28 pixels; videos merge pairs of frames ({@code temporalPatchSize}).
 *
 * <p>The limits are checked before the memory is committed (file length, image header, container
 * header), because an {@link OutOfMemoryError} on an executor kills the executor, not the record.
 *
 * @param maxMediaBytes encoded bytes of one image or video ({@code data.max_media_bytes})
 * @param maxDecodedPixels width × height of one source image or video frame, as its header states
 *     it ({@code data.max_decoded_pixels})
 * @param maxVideoFrames frames a video's container may hold ({@code data.max_video_frames})
 */
public record MediaOptions(int patchSize, int mergeSize, long minPixels, long maxPixels, double fps, int maxFrames,
        int temporalPatchSize, long maxMediaBytes, long maxDecodedPixels, long maxVideoFrames) implements Serializable {
    /** The largest encoded medium that still fits one Java array. */
    public static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;
    /** 256 MiB: far above a training image or clip, far below an executor's heap. */
    public static final long DEFAULT_MAX_MEDIA_BYTES = 256L << 20;
    /**
     * Pillow's {@code Image.MAX_IMAGE_PIXELS} (an RGB raster of at most 256 MiB), so a dataset that
     * Python pipelines accept is accepted here too.
     */
    public static final long DEFAULT_MAX_DECODED_PIXELS = 89_478_485L;
    /** Over 4.5 hours at 60 fps; a container claiming more is broken or hostile. */
    public static final long DEFAULT_MAX_VIDEO_FRAMES = 1_000_000L;

    public static final MediaOptions DEFAULTS = new MediaOptions(14, 2, 56L * 56, 28L * 28 * 1280, 2.0, 16, 2);

    public MediaOptions {
        if (patchSize < 1 || mergeSize < 1 || temporalPatchSize < 1) {
            throw new IllegalArgumentException("patch, merge and temporal patch sizes must be >= 1");
        }
        if (minPixels < 1 || maxPixels < minPixels) {
            throw new IllegalArgumentException("need 1 <= data.min_pixels <= data.max_pixels, got "
                    + minPixels + ", " + maxPixels);
        }
        if (fps <= 0 || maxFrames < 1) {
            throw new IllegalArgumentException("need data.fps > 0 and data.max_frames >= 1, got " + fps + ", " + maxFrames);
        }
        if (maxMediaBytes < 1 || maxMediaBytes > MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException("data.max_media_bytes must be in [1, " + MAX_ARRAY_BYTES
                    + "] (one Java array holds the encoded bytes), got " + maxMediaBytes);
        }
        // A decoded frame is one Java byte array of up to 4 bytes (RGBA) per pixel.
        if (maxDecodedPixels < 1 || maxDecodedPixels > MAX_ARRAY_BYTES / 4) {
            throw new IllegalArgumentException("data.max_decoded_pixels must be in [1, " + MAX_ARRAY_BYTES / 4
                    + "] (one Java array holds a decoded frame), got " + maxDecodedPixels);
        }
        if (maxVideoFrames < maxFrames) {
            throw new IllegalArgumentException("need data.max_video_frames >= data.max_frames, got "
                    + maxVideoFrames + " < " + maxFrames);
        }
    }

    /** Sizing and sampling as given, with the default limits. */
    public MediaOptions(int patchSize, int mergeSize, long minPixels, long maxPixels, double fps, int maxFrames,
            int temporalPatchSize) {
        this(patchSize, mergeSize, minPixels, maxPixels, fps, maxFrames, temporalPatchSize, DEFAULT_MAX_MEDIA_BYTES,
                DEFAULT_MAX_DECODED_PIXELS, DEFAULT_MAX_VIDEO_FRAMES);
    }

    /** These options with other limits. */
    public MediaOptions withLimits(long mediaBytes, long decodedPixels, long videoFrames) {
        return new MediaOptions(patchSize, mergeSize, minPixels, maxPixels, fps, maxFrames, temporalPatchSize,
                mediaBytes, decodedPixels, videoFrames);
    }

    /** Pixels per side of one placeholder token. */
    public int factor() {
        return patchSize * mergeSize;
    }

    /** Placeholder tokens of an image or video of this (already resized) shape. */
    public int tokens(int frames, int height, int width) {
        int temporal = Math.max(1, frames / temporalPatchSize);
        return temporal * (height / factor()) * (width / factor());
    }

    /**
     * Refuses a source image or frame whose header states more than {@link #maxDecodedPixels}
     * pixels, before anything is decoded; {@code what} names the medium in the message.
     */
    void checkFrameSize(String what, long height, long width) throws MediaTooLargeException {
        if (height < 1 || width < 1) {
            return; // the decoder reports a shapeless medium itself
        }
        if (height * width > maxDecodedPixels) {
            throw new MediaTooLargeException(what + " of " + width + "x" + height + " = " + height * width
                    + " pixels is over data.max_decoded_pixels=" + maxDecodedPixels);
        }
    }

    /**
     * Refuses a video of more than {@link #maxVideoFrames} frames; {@code source} says where the
     * count comes from ("the container declares", "decoding reached").
     */
    void checkVideoFrames(String source, long frames) throws MediaTooLargeException {
        if (frames > maxVideoFrames) {
            throw new MediaTooLargeException(source + " " + frames + " frames, over data.max_video_frames="
                    + maxVideoFrames);
        }
    }
}
