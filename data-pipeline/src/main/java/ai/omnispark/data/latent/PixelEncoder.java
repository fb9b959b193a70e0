package ai.omnispark.data.latent;

import java.util.Random;

/**
 * The built-in stand-in for the Wan VAE: uint8 RGB frames (F, H, W, 3) to latents
 * (latent_channels, 1 + (F - 1) / 4, H / 8, W / 8), the shape the Wan VAE gives, and back.
 *
 * <p>Each latent cell is the mean RGB of its pixel block, scaled to [-1, 1], projected to
 * {@code latentChannels} values by a fixed map with orthonormal columns. A block is 8 x 8 pixels
 * of frame 0 for latent frame 0, and 8 x 8 pixels of 4 consecutive frames after that (latent frame
 * t >= 1 covers frames 4t - 3 .. 4t), as the Wan VAE compresses time after the first frame. So
 * only 4k + 1 frames are used (later ones are dropped) and the height and width are cut down to
 * multiples of 8 (the bottom rows and right columns beyond are dropped).
 *
 * <p>{@link #decode} applies the transpose and repeats each cell over its block (nearest
 * upsampling): a video whose blocks are flat colours comes back exactly, up to uint8 rounding;
 * anything finer inside a block is averaged away. The map depends only on the seed, so the
 * prepare step and a later decode of generated latents agree.
 */
public final class PixelEncoder {
    /** Pixels per latent cell along height and width. */
    public static final int SPATIAL = 8;
    /** Frames per latent frame after the first. */
    public static final int TEMPORAL = 4;
    /** The seed of the map the prepare step uses; decoding generated latents must use the same. */
    public static final long DEFAULT_SEED = 0x5EED_0016L;

    private final int latentChannels;
    /** Row-major (latentChannels, 3), columns orthonormal. */
    private final float[] map;

    /** The encoder of the prepare step: {@link #DEFAULT_SEED}. */
    public PixelEncoder(int latentChannels) {
        this(latentChannels, DEFAULT_SEED);
    }

    public PixelEncoder(int latentChannels, long seed) {
        if (latentChannels < 3) {
            throw new IllegalArgumentException("data.latent_channels must be >= 3 (the pixel encoder maps 3 colour "
                    + "values into them without loss), got " + latentChannels);
        }
        this.latentChannels = latentChannels;
        this.map = orthonormalColumns(latentChannels, seed);
    }

    public int latentChannels() {
        return latentChannels;
    }

    /** The (latentChannels, 3) map, row-major, a copy: its columns are orthonormal. */
    public float[] map() {
        return map.clone();
    }

    /** Frames of a clip the encoder uses: the largest 4k + 1 that is at most {@code frames}. */
    public static int usedFrames(int frames) {
        if (frames < 1) {
            throw new IllegalArgumentException("a clip needs at least one frame, got " + frames);
        }
        return 1 + TEMPORAL * ((frames - 1) / TEMPORAL);
    }

    /** (C, F', H', W') of the latents of a clip of {@code frames} x {@code height} x {@code width}. */
    public int[] latentShape(int frames, int height, int width) {
        if (height < SPATIAL || width < SPATIAL) {
            throw new IllegalArgumentException("frames of " + height + "x" + width + " are smaller than one "
                    + SPATIAL + "x" + SPATIAL + " latent cell");
        }
        return new int[] {latentChannels, 1 + (usedFrames(frames) - 1) / TEMPORAL, height / SPATIAL, width / SPATIAL};
    }

    /** Frames (F, H, W, 3) uint8, row-major, to latents (C, F', H', W') float32, row-major. */
    public float[] encode(byte[] rgb, int frames, int height, int width) {
        long expected = (long) frames * height * width * 3;
        if (rgb.length != expected) {
            throw new IllegalArgumentException("frames of shape " + frames + "x" + height + "x" + width
                    + "x3 need " + expected + " bytes, got " + rgb.length);
        }
        int[] shape = latentShape(frames, height, width);
        int lf = shape[1];
        int lh = shape[2];
        int lw = shape[3];
        int cells = lf * lh * lw;
        float[] out = new float[latentChannels * cells];
        double[] sum = new double[3];
        for (int t = 0; t < lf; t++) {
            int first = t == 0 ? 0 : TEMPORAL * t - (TEMPORAL - 1);
            int count = t == 0 ? 1 : TEMPORAL;
            for (int y = 0; y < lh; y++) {
                for (int x = 0; x < lw; x++) {
                    sum[0] = 0;
                    sum[1] = 0;
                    sum[2] = 0;
                    for (int f = first; f < first + count; f++) {
                        for (int dy = 0; dy < SPATIAL; dy++) {
                            int base = ((f * height + y * SPATIAL + dy) * width + x * SPATIAL) * 3;
                            for (int dx = 0; dx < SPATIAL * 3; dx += 3) {
                                sum[0] += rgb[base + dx] & 0xFF;
                                sum[1] += rgb[base + dx + 1] & 0xFF;
                                sum[2] += rgb[base + dx + 2] & 0xFF;
                            }
                        }
                    }
                    double n = (double) count * SPATIAL * SPATIAL;
                    int cell = (t * lh + y) * lw + x;
                    for (int c = 0; c < latentChannels; c++) {
                        double z = 0;
                        for (int k = 0; k < 3; k++) {
                            z += map[c * 3 + k] * (sum[k] / n / 127.5 - 1.0);
                        }
                        out[c * cells + cell] = (float) z;
                    }
                }
            }
        }
        return out;
    }

    /**
     * The conditioning latents of image-to-video: the encoding of {@code firstFrame} (H, W, 3)
     * followed by frames that are zero in the encoder's [-1, 1] space (mid grey), as diffusers' Wan
     * image-to-video pipeline builds its condition. The map is linear, so every latent frame after
     * the first is exactly zero. Shape (C, latentFrames, H / 8, W / 8).
     */
    public float[] encodeCondition(byte[] firstFrame, int height, int width, int latentFrames) {
        if (latentFrames < 1) {
            throw new IllegalArgumentException("a condition needs at least one latent frame, got " + latentFrames);
        }
        float[] first = encode(firstFrame, 1, height, width);
        int plane = (height / SPATIAL) * (width / SPATIAL);
        float[] out = new float[latentChannels * latentFrames * plane];
        for (int c = 0; c < latentChannels; c++) {
            System.arraycopy(first, c * plane, out, c * latentFrames * plane, plane);
        }
        return out;
    }

    /**
     * Latents (C, F', H', W') back to uint8 frames (1 + 4 (F' - 1), 8 H', 8 W', 3): the transpose
     * of the map, rounded and clamped to [0, 255], each cell repeated over its block.
     */
    public byte[] decode(float[] latents, int[] shape) {
        if (shape.length != 4 || shape[0] != latentChannels || shape[1] < 1 || shape[2] < 1 || shape[3] < 1) {
            throw new IllegalArgumentException("latents to decode must have shape (" + latentChannels
                    + ", F, H, W) with F, H, W >= 1, got " + java.util.Arrays.toString(shape));
        }
        int lf = shape[1];
        int lh = shape[2];
        int lw = shape[3];
        int cells = lf * lh * lw;
        if (latents.length != latentChannels * cells) {
            throw new IllegalArgumentException("latents of shape " + java.util.Arrays.toString(shape) + " need "
                    + (long) latentChannels * cells + " values, got " + latents.length);
        }
        int frames = decodedFrames(lf);
        int height = lh * SPATIAL;
        int width = lw * SPATIAL;
        byte[] out = new byte[frames * height * width * 3];
        byte[] rgb = new byte[3];
        for (int t = 0; t < lf; t++) {
            int first = t == 0 ? 0 : TEMPORAL * t - (TEMPORAL - 1);
            int count = t == 0 ? 1 : TEMPORAL;
            for (int y = 0; y < lh; y++) {
                for (int x = 0; x < lw; x++) {
                    int cell = (t * lh + y) * lw + x;
                    for (int k = 0; k < 3; k++) {
                        double v = 0;
                        for (int c = 0; c < latentChannels; c++) {
                            v += (double) map[c * 3 + k] * latents[c * cells + cell];
                        }
                        long p = Math.round((v + 1.0) * 127.5);
                        rgb[k] = (byte) Math.max(0, Math.min(255, p));
                    }
                    for (int f = first; f < first + count; f++) {
                        for (int dy = 0; dy < SPATIAL; dy++) {
                            int base = ((f * height + y * SPATIAL + dy) * width + x * SPATIAL) * 3;
                            for (int dx = 0; dx < SPATIAL * 3; dx += 3) {
                                out[base + dx] = rgb[0];
                                out[base + dx + 1] = rgb[1];
                                out[base + dx + 2] = rgb[2];
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    /** Frames {@link #decode} gives for {@code latentFrames} latent frames. */
    public static int decodedFrames(int latentFrames) {
        return 1 + TEMPORAL * (latentFrames - 1);
    }

    /** A seeded Gaussian (rows, 3) matrix made orthonormal by Gram-Schmidt on its columns, in double. */
    private static float[] orthonormalColumns(int rows, long seed) {
        Random random = new Random(seed);
        double[][] cols = new double[3][rows];
        for (int k = 0; k < 3; k++) {
            for (int r = 0; r < rows; r++) {
                cols[k][r] = random.nextGaussian();
            }
            // Twice, for columns orthogonal to double precision.
            for (int pass = 0; pass < 2; pass++) {
                for (int j = 0; j < k; j++) {
                    double dot = 0;
                    for (int r = 0; r < rows; r++) {
                        dot += cols[k][r] * cols[j][r];
                    }
                    for (int r = 0; r < rows; r++) {
                        cols[k][r] -= dot * cols[j][r];
                    }
                }
            }
            double norm = 0;
            for (int r = 0; r < rows; r++) {
                norm += cols[k][r] * cols[k][r];
            }
            norm = Math.sqrt(norm);
            for (int r = 0; r < rows; r++) {
                cols[k][r] /= norm;
            }
        }
        float[] out = new float[rows * 3];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < 3; k++) {
                out[r * 3 + k] = (float) cols[k][r];
            }
        }
        return out;
    }
}
