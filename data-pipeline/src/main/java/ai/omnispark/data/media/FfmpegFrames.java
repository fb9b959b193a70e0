package ai.omnispark.data.media;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
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
    public static BufferedImage firstImage(byte[] bytes, MediaOptions limits) throws IOException {
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
        try (FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(new ByteArrayInputStream(bytes), bytes.length)) {
            grabber.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
            grabber.start();
            // FFmpeg cannot subsample while decoding: a picture over the cap is refused from its header.
            limits.checkFrameSize("an image", grabber.getImageHeight(), grabber.getImageWidth());
            Frame frame = grabber.grabImage();
            if (frame == null) {
                throw new IOException("no picture in these " + bytes.length + " bytes");
            }
            limits.checkFrameSize("an image", frame.imageHeight, frame.imageWidth);
            BufferedImage image = bgr(frame);
            grabber.stop();
            return image;
        } catch (FFmpegFrameGrabber.Exception | RuntimeException e) {
            throw new IOException("neither ImageIO nor FFmpeg recognise these " + bytes.length + " bytes: "
                    + e.getMessage(), e);
        }
    }

    /**
     * The frames the container of a started grabber says its video streams hold: the largest
     * stream's {@code nb_frames}, or where a format does not record that, its duration × frame rate.
     */
    static long claimedVideoFrames(FFmpegFrameGrabber grabber) {
        AVFormatContext format = grabber.getFormatContext();
        long claimed = 0;
        for (int i = 0; i < format.nb_streams(); i++) {
            AVStream stream = format.streams(i);
            if (stream.codecpar().codec_type() != avutil.AVMEDIA_TYPE_VIDEO) {
                continue;
            }
            long frames = stream.nb_frames();
            if (frames <= 0) {
                // Microseconds × frames per second, in double: a hostile duration must not overflow.
                double estimate = Math.ceil(grabber.getLengthInTime() / 1e6 * grabber.getVideoFrameRate());
                frames = estimate > 0 ? (long) Math.min(estimate, Long.MAX_VALUE) : 0;
            }
            claimed = Math.max(claimed, frames);
        }
        return claimed;
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
