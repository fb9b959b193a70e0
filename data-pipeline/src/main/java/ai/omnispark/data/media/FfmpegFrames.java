package ai.omnispark.data.media;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;

/** Frames out of FFmpeg as Java images. */
public final class FfmpegFrames {
    private FfmpegFrames() {}

    /**
     * The first picture of {@code bytes}, for image formats the JDK's ImageIO lacks (WebP among
     * them): FFmpeg decodes those natively, so no extra ImageIO plugin is needed.
     */
    public static BufferedImage firstImage(byte[] bytes) throws IOException {
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
        try (FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(new ByteArrayInputStream(bytes), bytes.length)) {
            grabber.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
            grabber.start();
            Frame frame = grabber.grabImage();
            if (frame == null) {
                throw new IOException("no picture in these " + bytes.length + " bytes");
            }
            BufferedImage image = bgr(frame);
            grabber.stop();
            return image;
        } catch (FFmpegFrameGrabber.Exception | RuntimeException e) {
            throw new IOException("neither ImageIO nor FFmpeg recognise these " + bytes.length + " bytes: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Copies a BGR24 frame row by row. FFmpeg pads rows to its alignment, and JavaCV's converter
     * infers channels as stride / width, which goes wrong for widths like 84; the stride is exact.
     */
    static BufferedImage bgr(Frame frame) throws IOException {
        if (!(frame.image[0] instanceof ByteBuffer buffer) || frame.imageDepth != Frame.DEPTH_UBYTE) {
            throw new IOException("unexpected frame layout: depth " + frame.imageDepth);
        }
        int w = frame.imageWidth;
        int h = frame.imageHeight;
        int stride = frame.imageStride;
        if (stride < w * 3) {
            throw new IOException("frame stride " + stride + " is shorter than a BGR row of " + w + " pixels");
        }
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] data = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
        for (int y = 0; y < h; y++) {
            buffer.get(y * stride, data, y * w * 3, w * 3);
        }
        return image;
    }
}
