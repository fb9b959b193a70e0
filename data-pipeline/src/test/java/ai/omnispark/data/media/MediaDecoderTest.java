package ai.omnispark.data.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
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

    private static MediaOptions withDecodedPixels(MediaOptions options, long pixels) {
        return options.withLimits(options.maxMediaBytes(), pixels, options.maxVideoFrames());
    }

    /**
     * 100000 × 100000 overflows the JDK's int raster and fails either way; 20000 × 20000 does not:
     * unchecked, ImageIO allocates its 1.2 GB raster for this 82-byte file before reading a row.
     */
    @Test
    void pngClaimingTenBillionPixelsIsRefusedFromItsHeader() {
        for (int side : new int[] {100_000, 20_000}) {
            byte[] png = MediaFixtures.pngClaiming(side, side);
            assertTrue(png.length < 200, "the whole file is " + png.length + " bytes");
            MediaTooLargeException e = assertThrows(MediaTooLargeException.class,
                    () -> new ImageDecoder(MediaOptions.DEFAULTS).decode(png));
            assertTrue(e.getMessage().contains(side + "x" + side + " = " + (long) side * side + " pixels")
                    && e.getMessage().contains("data.max_decoded_pixels=89478485"), e.getMessage());
        }
    }

    @Test
    void decodedPixelCapIsExactAtTheBoundaryForImageIoAndFfmpeg() throws Exception {
        byte[] png = MediaFixtures.png(56, 84, Color.RED, Color.BLUE);
        byte[] webp = MediaFixtures.webp(tmp, 56, 84, Color.GREEN);
        for (byte[] image : new byte[][] {png, webp}) {
            assertEquals(84, new ImageDecoder(withDecodedPixels(MediaOptions.DEFAULTS, 56 * 84)).decode(image).width());
            MediaTooLargeException e = assertThrows(MediaTooLargeException.class,
                    () -> new ImageDecoder(withDecodedPixels(MediaOptions.DEFAULTS, 56 * 84 - 1)).decode(image));
            assertTrue(e.getMessage().contains("84x56 = 4704 pixels"), e.getMessage());
        }
    }

    /**
     * A 1680×2240 gradient resized to 84×112 is read with 10× subsampling: it allocates a small
     * fraction of the 11 MB the full raster needs, and its pixels match the gradient's exact values.
     */
    @Test
    void largeImagesAreSubsampledWhileDecoding() throws Exception {
        int height = 1680;
        int width = 2240;
        BufferedImage source = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                source.setRGB(x, y, (x * 255 / (width - 1)) << 16 | (y * 255 / (height - 1)) << 8 | 77);
            }
        }
        ByteArrayOutputStream encoded = new ByteArrayOutputStream();
        ImageIO.write(source, "png", encoded);
        byte[] png = encoded.toByteArray();
        source = null;
        MediaOptions options = new MediaOptions(14, 2, 28 * 28, 28 * 28 * 16, 2.0, 4, 2);
        ImageDecoder decoder = new ImageDecoder(options);
        decoder.decode(png); // warm-up: class loading and JIT allocate too

        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        Media m = decoder.decode(png);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        long fullRaster = 3L * height * width;
        assertTrue(allocated < fullRaster / 4, "decoding allocated " + allocated + " bytes; the full raster is "
                + fullRaster);

        assertEquals(84, m.height());
        assertEquals(112, m.width());
        // Target pixel (i, j) covers source rows [20i, 20i + 20) and columns [20j, 20j + 20); its
        // gradient value is that of the centre, up to the half-cell the sampling grid may shift.
        for (int i = 0; i < 84; i++) {
            for (int j = 0; j < 112; j++) {
                int at = 3 * (i * 112 + j);
                double red = (20 * j + 9.5) * 255 / (width - 1);
                double green = (20 * i + 9.5) * 255 / (height - 1);
                assertEquals(red, m.pixels()[at] & 0xFF, 10 * 255.0 / width + 1, "red at " + i + "," + j);
                assertEquals(green, m.pixels()[at + 1] & 0xFF, 10 * 255.0 / height + 1, "green at " + i + "," + j);
                assertEquals(77, m.pixels()[at + 2] & 0xFF, 1, "blue at " + i + "," + j);
            }
        }
    }

    @Test
    void videoClaimingAnAbsurdFrameCountIsRefusedFromItsContainer() throws Exception {
        byte[] mp4 = MediaFixtures.withClaimedFrames(MediaFixtures.mp4(tmp, 20, 56, 56, 10), 2_000_000_000);
        MediaOptions options = new MediaOptions(14, 2, 56 * 56, 28 * 28 * 64, 2.0, 4, 2);
        MediaTooLargeException e = assertThrows(MediaTooLargeException.class,
                () -> new VideoDecoder(options).decode(mp4));
        assertTrue(e.getMessage().contains("the container declares 2000000000 frames, over data.max_video_frames=1000000"),
                e.getMessage());
    }

    @Test
    void videoLimitsAreExactAtTheBoundary() throws Exception {
        byte[] mp4 = MediaFixtures.mp4(tmp, 20, 56, 84, 10);
        MediaOptions options = new MediaOptions(14, 2, 56 * 56, 28 * 28 * 64, 2.0, 4, 2);
        assertEquals(4, new VideoDecoder(options.withLimits(mp4.length, 56 * 84, 20)).decode(mp4).frames());
        MediaTooLargeException frames = assertThrows(MediaTooLargeException.class,
                () -> new VideoDecoder(options.withLimits(mp4.length, 56 * 84, 19)).decode(mp4));
        assertTrue(frames.getMessage().contains("the container declares 20 frames, over data.max_video_frames=19"),
                frames.getMessage());
        MediaTooLargeException pixels = assertThrows(MediaTooLargeException.class,
                () -> new VideoDecoder(options.withLimits(mp4.length, 56 * 84 - 1, 20)).decode(mp4));
        assertTrue(pixels.getMessage().contains("84x56 = 4704 pixels is over data.max_decoded_pixels=4703"),
                pixels.getMessage());
    }

    /** A header that understates its frames does not lift the cap: decoding counts them too. */
    @Test
    void videoUnderstatingItsFramesStopsAtTheCapWhileDecoding() throws Exception {
        byte[] mp4 = MediaFixtures.withClaimedFrames(MediaFixtures.mp4(tmp, 20, 56, 56, 10), 5);
        MediaOptions options = new MediaOptions(14, 2, 56 * 56, 28 * 28 * 64, 2.0, 4, 2);
        // At 2 fps from 10 fps the 4 kept frames are 0, 5, 10 and 15, so 16 frames must be decoded.
        assertEquals(4, new VideoDecoder(options.withLimits(mp4.length, 56 * 56, 16)).decode(mp4).frames());
        MediaTooLargeException e = assertThrows(MediaTooLargeException.class,
                () -> new VideoDecoder(options.withLimits(mp4.length, 56 * 56, 15)).decode(mp4));
        assertTrue(e.getMessage().contains("decoding reached 16 frames, over data.max_video_frames=15"), e.getMessage());
    }
}
