package ai.omnispark.data.media;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

/**
 * Decodes a video with FFmpeg (JavaCV), samples frames at {@code fps} up to {@code maxFrames},
 * resizes them all to the first frame's {@link SmartResize} size and returns uint8 RGB THWC. The
 * frame count is padded to a multiple of the temporal patch by repeating the last frame, as the
 * vision tower merges frames in pairs. The frame size and the container's frame count are checked
 * against {@link MediaOptions}' limits before the first frame is grabbed.
 */
public final class VideoDecoder {
    private final MediaOptions options;

    public VideoDecoder(MediaOptions options) {
        this.options = options;
    }

    public Media decode(byte[] bytes) throws IOException {
        List<byte[]> frames = new ArrayList<>();
        int height = 0;
        int width = 0;
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
        try (FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(new ByteArrayInputStream(bytes), bytes.length)) {
            grabber.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
            grabber.start();
            // The container's header is all that has been read so far: refuse before decoding.
            options.checkFrameSize("a video frame", grabber.getImageHeight(), grabber.getImageWidth());
            options.checkVideoFrames("the container declares", FfmpegFrames.claimedVideoFrames(grabber));
            long stepMicros = Math.round(1_000_000 / options.fps());
            long next = 0;
            long decoded = 0;
            Frame frame;
            while (frames.size() < options.maxFrames() && (frame = grabber.grabImage()) != null) {
                // A header may understate its frames; the count decoded is bounded all the same.
                options.checkVideoFrames("decoding reached", ++decoded);
                long ts = grabber.getTimestamp();
                if (ts + 500 < next) {
                    continue;
                }
                // A stream may change size mid-way; the header was checked, each frame is too.
                options.checkFrameSize("a video frame", frame.imageHeight, frame.imageWidth);
                BufferedImage image = FfmpegFrames.bgr(frame);
                if (frames.isEmpty()) {
                    int[] size = SmartResize.of(image.getHeight(), image.getWidth(), options.factor(),
                            options.minPixels(), options.maxPixels());
                    height = size[0];
                    width = size[1];
                }
                frames.add(ImageDecoder.rgb(image, height, width));
                next += stepMicros;
                while (next <= ts) {
                    next += stepMicros;
                }
            }
            grabber.stop();
        } catch (MediaTooLargeException e) {
            throw e;
        } catch (FrameGrabber.Exception | RuntimeException e) {
            throw new IOException("ffmpeg could not decode the video: " + e.getMessage(), e);
        } catch (Exception e) {
            throw new IOException("closing the video decoder failed: " + e.getMessage(), e);
        }
        if (frames.isEmpty()) {
            throw new IOException("the video has no decodable frames");
        }
        while (frames.size() % options.temporalPatchSize() != 0) {
            frames.add(frames.get(frames.size() - 1));
        }
        int frameBytes = height * width * 3;
        byte[] pixels = new byte[frames.size() * frameBytes];
        for (int t = 0; t < frames.size(); t++) {
            System.arraycopy(frames.get(t), 0, pixels, t * frameBytes, frameBytes);
        }
        return new Media(pixels, frames.size(), height, width, 3, 0);
    }
}
