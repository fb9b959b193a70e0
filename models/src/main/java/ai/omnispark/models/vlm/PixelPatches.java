package ai.omnispark.models.vlm;

/**
 * A shard's uint8 THWC media to the rows of Hugging Face's Qwen2-VL image processor's
 * {@code pixel_values}: rescaled by 1/255, normalised with the CLIP mean and std, and cut into
 * patches of (C, temporal_patch_size, patch, patch) listed in (t, h/m, w/m, m, m) merge-window order,
 * so the m × m patches one language-model token merges are consecutive. An image (one frame), and
 * a video whose frame count is not a multiple of temporal_patch_size, are filled up with copies of
 * the last frame, as the processor does.
 */
public final class PixelPatches {
    /** CLIP's (OpenAI) per-channel mean, the processor's {@code image_mean}. */
    public static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    /** CLIP's per-channel std, the processor's {@code image_std}. */
    public static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};
    /** The processor's {@code rescale_factor}. */
    private static final double RESCALE = 1.0 / 255.0;

    private PixelPatches() {}

    /** (T / tp rounded up, H / p, W / p): the media's {@code grid_thw} in patches. */
    public static int[] grid(int frames, int height, int width, VisionGeometry g) {
        if (frames < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("media of " + frames + "x" + height + "x" + width
                    + " (frames x height x width) is empty");
        }
        int merged = g.mergedPixels();
        if (height % merged != 0 || width % merged != 0) {
            throw new IllegalArgumentException("media of " + height + "x" + width + " pixels is not a multiple of "
                    + merged + " (patch_size " + g.patchSize() + " x spatial_merge_size " + g.spatialMergeSize()
                    + ") per side; prepare it with data.patch_size and data.merge_size equal to the model's");
        }
        int tp = g.temporalPatchSize();
        return new int[] {(frames + tp - 1) / tp, height / g.patchSize(), width / g.patchSize()};
    }

    /**
     * Writes the media's patches to {@code out} from {@code offset}, row after row of
     * {@link VisionGeometry#patchElements()} floats; returns the patch count (t · h · w of its grid).
     *
     * @param thwc frames × height × width × channels uint8 pixels
     */
    public static int write(byte[] thwc, int frames, int height, int width, int channels, VisionGeometry g,
            float[] out, int offset) {
        if (channels != g.inChannels()) {
            throw new IllegalArgumentException("media has " + channels + " channels but the vision tower takes "
                    + g.inChannels() + " (vision_config.in_channels)");
        }
        if (channels > MEAN.length) {
            throw new IllegalArgumentException("CLIP normalisation is defined for " + MEAN.length
                    + " channels, the media has " + channels);
        }
        long expected = (long) frames * height * width * channels;
        if (thwc.length != expected) {
            throw new IllegalArgumentException("media of shape " + frames + "x" + height + "x" + width + "x" + channels
                    + " needs " + expected + " bytes, got " + thwc.length);
        }
        int[] grid = grid(frames, height, width, g);
        int p = g.patchSize();
        int tp = g.temporalPatchSize();
        int m = g.spatialMergeSize();
        int patches = grid[0] * grid[1] * grid[2];
        int rowSize = g.patchElements();
        if ((long) offset + (long) patches * rowSize > out.length) {
            throw new IllegalArgumentException("pixel_values holds " + out.length + " floats; media needs "
                    + (long) patches * rowSize + " from " + offset);
        }
        float[][] table = normalised(channels);
        int o = offset;
        for (int t = 0; t < grid[0]; t++) {
            for (int bh = 0; bh < grid[1] / m; bh++) {
                for (int bw = 0; bw < grid[2] / m; bw++) {
                    for (int mh = 0; mh < m; mh++) {
                        for (int mw = 0; mw < m; mw++) {
                            int y0 = (bh * m + mh) * p;
                            int x0 = (bw * m + mw) * p;
                            for (int c = 0; c < channels; c++) {
                                for (int k = 0; k < tp; k++) {
                                    int frame = Math.min(t * tp + k, frames - 1);
                                    for (int y = 0; y < p; y++) {
                                        int pixel = ((frame * height + y0 + y) * width + x0) * channels + c;
                                        for (int x = 0; x < p; x++) {
                                            out[o++] = table[c][thwc[pixel + x * channels] & 0xFF];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return patches;
    }

    /**
     * Per channel and byte value, the normalised float, computed as the processor does: the byte
     * times 1/255 in double rounded to float32, then (x - mean) / std in float32.
     */
    private static float[][] normalised(int channels) {
        float[][] table = new float[channels][256];
        for (int c = 0; c < channels; c++) {
            for (int v = 0; v < 256; v++) {
                float x = (float) (v * RESCALE);
                table[c][v] = (x - MEAN[c]) / STD[c];
            }
        }
        return table;
    }
}
