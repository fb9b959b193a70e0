package ai.omnispark.models.vlm;

import ai.omnispark.models.testing.TorchPeer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pixel_values} rows against the Hugging Face processor's layout: a few elements located by
 * hand, and whole media against {@code processor_reference.py} (the processor's rescale, normalise,
 * reshape and permute redone in torch; needs Debian's /usr/bin/python3 with python3-torch, skipped
 * without it). Both compute in float32 in the same order, so they agree to 1e-6 (measured: 0).
 */
class PixelPatchesTest {
    private static final VisionGeometry G = new VisionGeometry(3, 2, 2, 2);

    @TempDir
    Path tmp;

    private static float normalised(int value, int channel) {
        float x = (float) (value * (1.0 / 255.0));
        return (x - PixelPatches.MEAN[channel]) / PixelPatches.STD[channel];
    }

    /** Pixel (frame, y, x, c) of a THWC buffer whose value encodes its coordinates. */
    private static int value(int frame, int y, int x, int c) {
        return (frame * 64 + y * 16 + x * 3 + c) & 0xFF;
    }

    @Test
    void elementsLandWhereTheProcessorPutsThem() {
        int frames = 1;
        int h = 4;
        int w = 8;
        byte[] pixels = new byte[frames * h * w * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    pixels[(y * w + x) * 3 + c] = (byte) value(0, y, x, c);
                }
            }
        }
        assertArrayEquals(new int[] {1, 2, 4}, PixelPatches.grid(frames, h, w, G));
        float[] out = new float[8 * G.patchElements()];
        assertEquals(8, PixelPatches.write(pixels, frames, h, w, 3, G, out, 0));
        int row = G.patchElements(); // 24 = C 3 x tp 2 x 2 x 2
        // Row 5 = window (0, 1), patch (mh 0, mw 1): patch row 0, patch column 3 -> pixels y 0..1, x 6..7.
        // Element (c 1, k 1, py 1, px 0) = 1*8 + 1*4 + 1*2 + 0 = 14: frame 0 again (an image repeats), y 1, x 6.
        assertEquals(normalised(value(0, 1, 6, 1), 1), out[5 * row + 14], 0f);
        // Row 2 = window (0, 0), patch (mh 1, mw 0): y 2..3, x 0..1; element (c 2, k 0, py 0, px 1) = 17.
        assertEquals(normalised(value(0, 2, 1, 2), 2), out[2 * row + 17], 0f);
        // k 0 and k 1 of an image are the same frame.
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 3; c++) {
                for (int e = 0; e < 4; e++) {
                    assertEquals(out[r * row + c * 8 + e], out[r * row + c * 8 + 4 + e], 0f);
                }
            }
        }
        // Byte 0 in channel 0 is -mean/std.
        assertEquals(-0.48145466f / 0.26862954f, normalised(0, 0), 1e-6f);
    }

    @Test
    void badMediaAreRefusedByName() {
        float[] out = new float[1000];
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                () -> PixelPatches.write(new byte[1 * 6 * 8 * 3], 1, 6, 8, 3, G, out, 0));
        assertTrue(size.getMessage().contains("not a multiple of 4"), size.getMessage());
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class,
                () -> PixelPatches.write(new byte[4 * 4 * 4], 1, 4, 4, 4, G, out, 0));
        assertTrue(channels.getMessage().contains("4 channels"), channels.getMessage());
        IllegalArgumentException bytes = assertThrows(IllegalArgumentException.class,
                () -> PixelPatches.write(new byte[10], 1, 4, 4, 3, G, out, 0));
        assertTrue(bytes.getMessage().contains("needs 48 bytes"), bytes.getMessage());
    }

    @Test
    void imagesAndVideosMatchTheProcessorReference() throws Exception {
        TorchPeer.assume();
        SplittableRandom random = new SplittableRandom(15);
        // (frames, height, width): an image, a 4-frame video, a 3-frame video (last frame repeated)
        int[][] shapes = {{1, 8, 12}, {4, 4, 8}, {3, 8, 4}};
        for (int[] shape : shapes) {
            byte[] pixels = new byte[shape[0] * shape[1] * shape[2] * 3];
            random.nextBytes(pixels);
            int[] grid = PixelPatches.grid(shape[0], shape[1], shape[2], G);
            int patches = grid[0] * grid[1] * grid[2];
            float[] ours = new float[patches * G.patchElements() + 5];
            assertEquals(patches, PixelPatches.write(pixels, shape[0], shape[1], shape[2], 3, G, ours, 5));
            float[] reference = reference(pixels, shape);
            assertEquals(patches * G.patchElements(), reference.length, "reference size for " + shapeText(shape));
            float max = 0;
            for (int i = 0; i < reference.length; i++) {
                max = Math.max(max, Math.abs(reference[i] - ours[5 + i]));
            }
            assertTrue(max <= 1e-6f, shapeText(shape) + ": max |diff| " + max);
        }
    }

    private static String shapeText(int[] shape) {
        return shape[0] + "x" + shape[1] + "x" + shape[2];
    }

    private float[] reference(byte[] pixels, int[] shape) throws IOException, InterruptedException {
        Path in = tmp.resolve("in.u8");
        Path out = tmp.resolve("out.f32");
        Files.write(in, pixels);
        TorchPeer.run("/vlm/processor_reference.py", tmp, 120, in.toString(), "" + shape[0], "" + shape[1],
                "" + shape[2], "3", "" + G.patchSize(), "" + G.temporalPatchSize(), "" + G.spatialMergeSize(),
                out.toString());
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[b.remaining() / 4];
        b.asFloatBuffer().get(values);
        return values;
    }

}
