package ai.omnispark.data.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MediaDecoderTest {
    @TempDir
    Path tmp;

    @Test
    void smartResizeKeepsSidesMultiplesOfTheFactorWithinBounds() {
        assertArrayEquals(new int[] {56, 84}, SmartResize.of(56, 84, 28, 56 * 56, 28 * 28 * 100));
        assertArrayEquals(new int[] {56, 84}, SmartResize.of(60, 80, 28, 56 * 56, 28 * 28 * 100));
        int[] big = SmartResize.of(1000, 2000, 28, 56 * 56, 28 * 28 * 16);
        assertTrue((long) big[0] * big[1] <= 28 * 28 * 16 && big[0] % 28 == 0 && big[1] % 28 == 0, Arrays.toString(big));
        int[] small = SmartResize.of(10, 10, 28, 56 * 56, 28 * 28 * 16);
        assertArrayEquals(new int[] {56, 56}, small);
    }

    @Test
    void pngDecodesToExactRgbHwc() throws Exception {
        byte[] png = MediaFixtures.png(56, 84, new Color(200, 10, 20), new Color(5, 6, 250));
        Media m = new ImageDecoder(MediaOptions.DEFAULTS).decode(png);
        assertEquals(1, m.frames());
        assertEquals(56, m.height());
        assertEquals(84, m.width());
        assertEquals(3, m.channels());
        assertArrayEquals(new byte[] {(byte) 200, 10, 20}, Arrays.copyOfRange(m.pixels(), 0, 3));
        int lastPixel = (56 * 84 - 1) * 3;
        assertArrayEquals(new byte[] {5, 6, (byte) 250}, Arrays.copyOfRange(m.pixels(), lastPixel, lastPixel + 3));
        assertEquals(6, MediaOptions.DEFAULTS.tokens(1, 56, 84));
    }

    @Test
    void webpDecodesThroughFfmpeg() throws Exception {
        byte[] webp = MediaFixtures.webp(tmp, 56, 84, new Color(30, 160, 220));
        assertEquals("RIFF", new String(webp, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
        Media m = new ImageDecoder(MediaOptions.DEFAULTS).decode(webp);
        assertEquals(56, m.height());
        assertEquals(84, m.width());
        int middle = (28 * 84 + 42) * 3;
        assertEquals(30, m.pixels()[middle] & 0xFF, 8);
        assertEquals(160, m.pixels()[middle + 1] & 0xFF, 8);
        assertEquals(220, m.pixels()[middle + 2] & 0xFF, 8);
    }

    @Test
    void truncatedPngIsRefused() throws Exception {
        byte[] png = MediaFixtures.png(56, 56, Color.RED, Color.BLUE);
        ImageDecoder decoder = new ImageDecoder(MediaOptions.DEFAULTS);
        assertThrows(java.io.IOException.class, () -> decoder.decode(Arrays.copyOf(png, png.length / 2)));
        assertThrows(java.io.IOException.class, () -> decoder.decode(new byte[] {1, 2, 3}));
    }

    @Test
    void videoFramesAreSampledAtFps() throws Exception {
        byte[] mp4 = MediaFixtures.mp4(tmp, 20, 56, 56, 10);
        MediaOptions options = new MediaOptions(14, 2, 56 * 56, 28 * 28 * 64, 2.0, 4, 2);
        Media m = new VideoDecoder(options).decode(mp4);
        assertEquals(4, m.frames());
        assertEquals(56, m.height());
        assertEquals(56, m.width());
        // At 2 fps from a 10 fps source the kept frames are 0, 5, 10, 15; mpeg4 is lossy, so compare means.
        int frameBytes = 56 * 56 * 3;
        for (int t = 0; t < 4; t++) {
            Color expected = MediaFixtures.frameColour(5 * t);
            double[] mean = new double[3];
            for (int i = 0; i < 56 * 56; i++) {
                for (int c = 0; c < 3; c++) {
                    mean[c] += (m.pixels()[t * frameBytes + 3 * i + c] & 0xFF) / (56.0 * 56);
                }
            }
            assertEquals(expected.getRed(), mean[0], 8, "frame " + t + " red");
            assertEquals(expected.getGreen(), mean[1], 8, "frame " + t + " green");
            assertEquals(expected.getBlue(), mean[2], 8, "frame " + t + " blue");
        }
        assertEquals(2 * 2 * 2, options.tokens(4, 56, 56));
    }

    @Test
    void randomBytesAreNotAVideo() {
        byte[] noise = new byte[4096];
        new SplittableRandom(1).nextBytes(noise);
        assertThrows(java.io.IOException.class, () -> new VideoDecoder(MediaOptions.DEFAULTS).decode(noise));
    }
}
