package ai.omnispark.data.media;

import java.io.Serializable;

/**
 * How images and videos are sized and sampled. Defaults follow Qwen2-VL: 14-pixel patches merged
 * 2×2, so each side is a multiple of 28 and one placeholder token stands for 28×28 pixels; videos
 * merge pairs of frames ({@code temporalPatchSize}).
 */
public record MediaOptions(int patchSize, int mergeSize, long minPixels, long maxPixels, double fps, int maxFrames,
        int temporalPatchSize) implements Serializable {
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
}
