package ai.omnispark.data.media;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;

/**
 * Writes uint8 RGB frames (F, H, W, 3) as an MP4 with JavaCV, in the codec and quality the bundled
 * sample's videos use (MPEG-4 part 2, YUV 4:2:0, quality 2): what {@link VideoDecoder} and any
 * player read back. The codec is lossy, so decoded pixels differ from the written ones by a few
 * levels (more at sharp colour edges, which 4:2:0 chroma subsampling blurs).
 */
public final class Mp4Writer {
    private Mp4Writer() {}

    public static void write(Path file, byte[] rgb, int frames, int height, int width, double fps) throws IOException {
        if (frames < 1 || height < 1 || width < 1 || (long) frames * height * width * 3 != rgb.length) {
            throw new IllegalArgumentException("frames of " + frames + " x " + height + " x " + width + " x 3 need "
                    + (long) frames * height * width * 3 + " bytes, got " + rgb.length);
        }
        if (height % 2 != 0 || width % 2 != 0) {
            throw new IllegalArgumentException("an MP4 in YUV 4:2:0 needs an even height and width, got " + height
                    + " x " + width);
        }
        if (!(fps > 0 && fps < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("fps must be a finite number > 0, got " + fps);
        }
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
        try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), width, height, 0);
                Java2DFrameConverter converter = new Java2DFrameConverter()) {
            recorder.setFormat("mp4");
            recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
            recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
            recorder.setFrameRate(fps);
            recorder.setVideoQuality(2);
            recorder.start();
            int plane = height * width * 3;
            for (int f = 0; f < frames; f++) {
                BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
                byte[] bgr = ((DataBufferByte) image.getRaster().getDataBuffer()).getData();
                for (int i = 0; i < plane; i += 3) {
                    bgr[i] = rgb[f * plane + i + 2];
                    bgr[i + 1] = rgb[f * plane + i + 1];
                    bgr[i + 2] = rgb[f * plane + i];
                }
                recorder.record(converter.convert(image));
            }
            recorder.stop();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("could not encode " + file + ": " + e.getMessage(), e);
        }
    }
}
