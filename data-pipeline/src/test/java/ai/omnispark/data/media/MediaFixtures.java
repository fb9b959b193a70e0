package ai.omnispark.data.media;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;

/** Generated media with known pixels. */
public final class MediaFixtures {
    private MediaFixtures() {}

    /** A PNG whose top half is {@code top} and bottom half {@code bottom}. */
    public static byte[] png(int height, int width, Color top, Color bottom) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(top);
        g.fillRect(0, 0, width, height / 2);
        g.setColor(bottom);
        g.fillRect(0, height / 2, width, height - height / 2);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    /** The colour of frame {@code i} of {@link #mp4}: red rises with the frame index. */
    public static Color frameColour(int i) {
        return new Color(Math.min(255, 10 * i), 128, 40);
    }

    /** An MPEG-4 video of {@code frames} solid frames at {@code fps}, frame i coloured {@link #frameColour}. */
    public static byte[] mp4(Path dir, int frames, int height, int width, int fps) throws IOException {
        Path file = Files.createTempFile(dir, "video", ".mp4");
        try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), width, height, 0);
                Java2DFrameConverter converter = new Java2DFrameConverter()) {
            avutil.av_log_set_level(avutil.AV_LOG_QUIET);
            recorder.setFormat("mp4");
            recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
            recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
            recorder.setFrameRate(fps);
            recorder.setVideoQuality(1);
            recorder.start();
            for (int i = 0; i < frames; i++) {
                BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
                Graphics2D g = image.createGraphics();
                g.setColor(frameColour(i));
                g.fillRect(0, 0, width, height);
                g.dispose();
                recorder.record(converter.convert(image));
            }
            recorder.stop();
        } catch (Exception e) {
            throw new IOException("could not encode the test video: " + e, e);
        }
        return Files.readAllBytes(file);
    }

    /** A lossy WebP of one solid colour, encoded by FFmpeg's libwebp (the JDK cannot write WebP). */
    public static byte[] webp(Path dir, int height, int width, Color colour) throws IOException {
        Path file = Files.createTempFile(dir, "image", ".webp");
        try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), width, height, 0);
                Java2DFrameConverter converter = new Java2DFrameConverter()) {
            avutil.av_log_set_level(avutil.AV_LOG_QUIET);
            recorder.setFormat("webp");
            recorder.setVideoCodecName("libwebp");
            recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
            recorder.setFrameRate(1);
            recorder.setVideoQuality(1);
            recorder.start();
            BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
            Graphics2D g = image.createGraphics();
            g.setColor(colour);
            g.fillRect(0, 0, width, height);
            g.dispose();
            recorder.record(converter.convert(image));
            recorder.stop();
        } catch (Exception e) {
            throw new IOException("could not encode the test WebP: " + e, e);
        }
        return Files.readAllBytes(file);
    }
}
