package ai.omnispark.data.latent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PixelEncoderTest {
    /** Frames (F, H, W, 3) whose 8x8 blocks (x 4 frames after the first) are each one random colour. */
    private static byte[] flatBlocks(int latentFrames, int lh, int lw, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int frames = 1 + 4 * (latentFrames - 1);
        int h = lh * 8;
        int w = lw * 8;
        byte[] out = new byte[frames * h * w * 3];
        for (int t = 0; t < latentFrames; t++) {
            for (int y = 0; y < lh; y++) {
                for (int x = 0; x < lw; x++) {
                    byte[] rgb = {(byte) random.nextInt(256), (byte) random.nextInt(256), (byte) random.nextInt(256)};
                    int first = t == 0 ? 0 : 4 * t - 3;
                    int last = t == 0 ? 0 : 4 * t;
                    for (int f = first; f <= last; f++) {
                        for (int dy = 0; dy < 8; dy++) {
                            for (int dx = 0; dx < 8; dx++) {
                                int p = ((f * h + y * 8 + dy) * w + x * 8 + dx) * 3;
                                out[p] = rgb[0];
                                out[p + 1] = rgb[1];
                                out[p + 2] = rgb[2];
                            }
                        }
                    }
                }
            }
        }
        return out;
    }

    @Test
    void theMapHasOrthonormalColumns() {
        for (int channels : new int[] {3, 4, 16, 48}) {
            float[] m = new PixelEncoder(channels).map();
            assertEquals(channels * 3, m.length);
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 3; b++) {
                    double dot = 0;
                    for (int r = 0; r < channels; r++) {
                        dot += (double) m[r * 3 + a] * m[r * 3 + b];
                    }
                    assertEquals(a == b ? 1.0 : 0.0, dot, 1e-6, "column " + a + " . column " + b + ", C=" + channels);
                }
            }
        }
    }

    @Test
    void flatColouredBlocksRoundTripExactly() {
        PixelEncoder encoder = new PixelEncoder(16);
        for (int latentFrames : new int[] {1, 2, 3}) {
            byte[] frames = flatBlocks(latentFrames, 3, 5, 17 + latentFrames);
            int f = 1 + 4 * (latentFrames - 1);
            int[] shape = encoder.latentShape(f, 24, 40);
            assertArrayEquals(new int[] {16, latentFrames, 3, 5}, shape);
            float[] latents = encoder.encode(frames, f, 24, 40);
            assertEquals(16 * latentFrames * 15, latents.length);
            assertArrayEquals(frames, encoder.decode(latents, shape), "F'=" + latentFrames);
        }
    }

    @Test
    void aBlockDecodesToItsRoundedMeanColour() {
        // One 8x8 block of frame 0 that is not flat: it decodes to its mean colour, computed here in
        // double and rounded. Each channel's mean is kept clear of a .5 tie by one pixel off by one
        // (R 100.52, G 94.52, B 223.48).
        PixelEncoder encoder = new PixelEncoder(8);
        byte[] frame = new byte[8 * 8 * 3];
        double[] mean = new double[3];
        for (int i = 0; i < 64; i++) {
            int r = i == 0 ? 101 : 100 + (i % 2);
            int g = i * 3 + (i == 1 ? 1 : 0);
            int b = 255 - i - (i == 2 ? 1 : 0);
            frame[i * 3] = (byte) r;
            frame[i * 3 + 1] = (byte) g;
            frame[i * 3 + 2] = (byte) b;
            mean[0] += r / 64.0;
            mean[1] += g / 64.0;
            mean[2] += b / 64.0;
        }
        byte[] decoded = encoder.decode(encoder.encode(frame, 1, 8, 8), new int[] {8, 1, 1, 1});
        for (int i = 0; i < 64; i++) {
            for (int k = 0; k < 3; k++) {
                assertEquals(Math.round(mean[k]), decoded[i * 3 + k] & 0xFF, "pixel " + i + " channel " + k);
            }
        }
    }

    @Test
    void extraFramesAndEdgePixelsAreDropped() {
        PixelEncoder encoder = new PixelEncoder(16);
        // 7 frames use 5 (1 + 4); 20 x 27 pixels use 16 x 24.
        assertArrayEquals(new int[] {16, 2, 2, 3}, encoder.latentShape(7, 20, 27));
        assertEquals(5, PixelEncoder.usedFrames(7));
        assertEquals(9, PixelEncoder.usedFrames(9));
        byte[] kept = flatBlocks(2, 2, 3, 5);
        // The same clip with two more frames and more rows/columns of noise: the same latents.
        SplittableRandom random = new SplittableRandom(9);
        byte[] bigger = new byte[7 * 20 * 27 * 3];
        for (int i = 0; i < bigger.length; i++) {
            bigger[i] = (byte) random.nextInt(256);
        }
        for (int f = 0; f < 5; f++) {
            for (int y = 0; y < 16; y++) {
                System.arraycopy(kept, ((f * 16 + y) * 24) * 3, bigger, ((f * 20 + y) * 27) * 3, 24 * 3);
            }
        }
        assertArrayEquals(encoder.encode(kept, 5, 16, 24), encoder.encode(bigger, 7, 20, 27));
    }

    @Test
    void theConditionIsTheFirstFrameThenZeros() {
        PixelEncoder encoder = new PixelEncoder(16);
        byte[] clip = flatBlocks(3, 2, 2, 11);
        byte[] first = Arrays.copyOf(clip, 16 * 16 * 3);
        float[] latents = encoder.encode(clip, 9, 16, 16);
        float[] cond = encoder.encodeCondition(first, 16, 16, 3);
        assertEquals(latents.length, cond.length);
        int plane = 4;
        for (int c = 0; c < 16; c++) {
            for (int t = 0; t < 3; t++) {
                for (int i = 0; i < plane; i++) {
                    int at = (c * 3 + t) * plane + i;
                    assertEquals(t == 0 ? latents[at] : 0f, cond[at], "c=" + c + " t=" + t);
                }
            }
        }
        // Zero latents are mid grey: round(127.5) = 128.
        byte[] decoded = encoder.decode(cond, new int[] {16, 3, 2, 2});
        assertArrayEquals(first, Arrays.copyOf(decoded, first.length));
        for (int i = first.length; i < decoded.length; i++) {
            assertEquals(128, decoded[i] & 0xFF);
        }
    }

    @Test
    void theMapIsFixedBySeed() {
        assertArrayEquals(new PixelEncoder(16).map(), new PixelEncoder(16, PixelEncoder.DEFAULT_SEED).map());
        assertFalse(Arrays.equals(new PixelEncoder(16).map(), new PixelEncoder(16, 1).map()));
    }

    @Test
    void badShapesAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PixelEncoder(2)).getMessage()
                .contains("data.latent_channels"));
        PixelEncoder encoder = new PixelEncoder(4);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> encoder.encode(new byte[10], 1, 8, 8))
                .getMessage().contains("need 192 bytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> encoder.latentShape(1, 4, 8)).getMessage()
                .contains("smaller than one 8x8"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> encoder.decode(new float[4], new int[] {3, 1, 1, 1}))
                .getMessage().contains("shape (4, F, H, W)"));
    }
}
