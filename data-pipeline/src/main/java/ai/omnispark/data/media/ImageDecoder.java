package ai.omnispark.data.media;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes PNG/JPEG/BMP/GIF/TIFF bytes with the JDK's ImageIO, and anything else FFmpeg knows
 * (WebP) through JavaCV, then resizes to uint8 RGB HWC. The header is read first: an image over
 * {@link MediaOptions#maxDecodedPixels()} is refused before its raster exists, and ImageIO reads a
 * large one subsampled, so the raster held is near the resized size, not the source size.
 */
public final class ImageDecoder {
    private final MediaOptions options;

    public ImageDecoder(MediaOptions options) {
        this.options = options;
    }

    /**
     * The image, resized by {@link SmartResize}; a {@link MediaTooLargeException} when its header
     * is over the limits, an {@link IOException} when the bytes are not an image.
     */
    public Media decode(byte[] bytes) throws IOException {
        BufferedImage image = readWithImageIo(bytes);
        if (image == null) {
            image = FfmpegFrames.firstImage(bytes, options);
        }
        int[] size = SmartResize.of(image.getHeight(), image.getWidth(), options.factor(),
                options.minPixels(), options.maxPixels());
        return new Media(rgb(image, size[0], size[1]), 1, size[0], size[1], 3, 0);
    }

    /** The image as ImageIO reads it, subsampled where it is large; null when no ImageIO reader knows the format. */
    private BufferedImage readWithImageIo(byte[] bytes) throws IOException {
        // A memory-cached stream keeps ImageIO from spilling each image to a temp file, without
        // touching the JVM-wide ImageIO.setUseCache switch.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                return null;
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int height = reader.getHeight(0);
                int width = reader.getWidth(0);
                options.checkFrameSize("an image", height, width);
                int[] size = SmartResize.of(height, width, options.factor(), options.minPixels(), options.maxPixels());
                ImageReadParam param = reader.getDefaultReadParam();
                int step = subsampling(height, width, size[0], size[1]);
                if (step > 1) {
                    param.setSourceSubsampling(step, step, 0, 0);
                }
                return reader.read(0, param);
            } finally {
                reader.dispose();
            }
        } catch (RuntimeException e) {
            // Some ImageIO plugins throw unchecked exceptions on corrupt input.
            throw new IOException("corrupt image: " + e, e);
        }
    }

    /**
     * The source subsampling for an image of {@code height × width} resized to
     * {@code targetHeight × targetWidth}: the largest step that keeps at least twice the target's
     * pixels per side, so the bicubic resize still has neighbours to interpolate between.
     */
    static int subsampling(int height, int width, int targetHeight, int targetWidth) {
        return Math.max(1, Math.min(height / (2 * targetHeight), width / (2 * targetWidth)));
    }

    /** Pixels of {@code image} drawn at {@code height × width}, RGB HWC. */
    public static byte[] rgb(BufferedImage image, int height, int width) {
        BufferedImage target = image;
        if (image.getHeight() != height || image.getWidth() != width || image.getType() != BufferedImage.TYPE_INT_RGB) {
            target = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = target.createGraphics();
            try {
                // Transparent pixels land on white, as on a page, rather than on the buffer's black.
                g.setColor(java.awt.Color.WHITE);
                g.fillRect(0, 0, width, height);
                g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
                g.drawImage(image, 0, 0, width, height, null);
            } finally {
                g.dispose();
            }
        }
        int[] argb = target.getRGB(0, 0, width, height, null, 0, width);
        byte[] out = new byte[argb.length * 3];
        for (int i = 0; i < argb.length; i++) {
            out[3 * i] = (byte) (argb[i] >> 16);
            out[3 * i + 1] = (byte) (argb[i] >> 8);
            out[3 * i + 2] = (byte) argb[i];
        }
        return out;
    }
}
