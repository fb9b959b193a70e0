package ai.omnispark.data.media;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes PNG/JPEG/BMP/GIF/TIFF bytes with the JDK's ImageIO, and anything else FFmpeg knows
 * (WebP) through JavaCV, then resizes to uint8 RGB HWC.
 */
public final class ImageDecoder {
    private final MediaOptions options;

    public ImageDecoder(MediaOptions options) {
        this.options = options;
    }

    /** The image, resized by {@link SmartResize}; an {@link IOException} when the bytes are not an image. */
    public Media decode(byte[] bytes) throws IOException {
        BufferedImage image;
        // A memory-cached stream keeps ImageIO from spilling each image to a temp file, without
        // touching the JVM-wide ImageIO.setUseCache switch. ImageIO.read closes the stream itself;
        // a memory-only stream needs no closing when no reader recognises the bytes.
        try {
            ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes));
            image = ImageIO.read(in);
        } catch (RuntimeException e) {
            // Some ImageIO plugins throw unchecked exceptions on corrupt input.
            throw new IOException("corrupt image: " + e, e);
        }
        if (image == null) {
            image = FfmpegFrames.firstImage(bytes);
        }
        int[] size = SmartResize.of(image.getHeight(), image.getWidth(), options.factor(),
                options.minPixels(), options.maxPixels());
        return new Media(rgb(image, size[0], size[1]), 1, size[0], size[1], 3, 0);
    }

    /** Pixels of {@code image} drawn at {@code height × width}, RGB HWC. */
    static byte[] rgb(BufferedImage image, int height, int width) {
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
