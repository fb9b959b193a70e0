package ai.omnispark.data.media;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
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

    /**
     * A well-formed PNG that claims {@code width × height} RGB pixels but carries the compressed
     * data of a single row: a decoder that trusts the header allocates the whole raster first.
     */
    public static byte[] pngClaiming(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        Deflater deflater = new Deflater();
        deflater.setInput(new byte[1 + 3 * Math.min(width, 1024)]);
        deflater.finish();
        byte[] idat = new byte[4096];
        int idatLength = deflater.deflate(idat);
        deflater.end();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        pngChunk(out, "IHDR", ihdr.array(), 13);
        pngChunk(out, "IDAT", idat, idatLength);
        pngChunk(out, "IEND", new byte[0], 0);
        return out.toByteArray();
    }

    /** length, type, data, CRC-32 over type and data: PNG's chunk layout. */
    private static void pngChunk(ByteArrayOutputStream out, String type, byte[] data, int length) {
        byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data, 0, length);
        out.writeBytes(ByteBuffer.allocate(4).putInt(length).array());
        out.writeBytes(typeBytes);
        out.write(data, 0, length);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /**
     * {@code mp4} with the sample count of its one time-to-sample ({@code stts}) entry set to
     * {@code frames}: the container then claims that many frames while holding its real ones.
     */
    public static byte[] withClaimedFrames(byte[] mp4, int frames) {
        byte[] out = mp4.clone();
        byte[] stts = "stts".getBytes(StandardCharsets.US_ASCII);
        for (int i = 4; i + 16 <= out.length; i++) {
            if (out[i] == stts[0] && out[i + 1] == stts[1] && out[i + 2] == stts[2] && out[i + 3] == stts[3]) {
                ByteBuffer box = ByteBuffer.wrap(out, i + 4, 12);
                box.getInt(); // version and flags
                int entries = box.getInt();
                if (entries != 1) {
                    throw new IllegalStateException("expected one stts entry in the fixture video, found " + entries);
                }
                box.putInt(frames);
                return out;
            }
        }
        throw new IllegalStateException("the fixture video has no stts box");
    }
}
