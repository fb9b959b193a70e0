package ai.omnispark.data.sample;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;

/**
 * The bundled sample that needs no download: {@code text.jsonl} (captions),
 * {@code image_text.jsonl} with PNGs of one coloured shape on white, and {@code video_text.jsonl}
 * with MP4s of a shape moving in one direction. Each caption says exactly what its image or video
 * shows, so a model can learn the pairing. Media paths in the JSON are relative to DIR.
 */
public final class SyntheticSample {
    public static final int SIDE = 112;
    public static final int VIDEO_FRAMES = 8;
    public static final int VIDEO_FPS = 4;

    private static final Map<String, Color> RGB = Map.of("red", new Color(220, 30, 30), "green", new Color(30, 160, 50),
            "blue", new Color(30, 60, 220), "yellow", new Color(240, 210, 20), "purple", new Color(140, 40, 170),
            "orange", new Color(245, 130, 20));

    private SyntheticSample() {}

    /** Writes {@code count} records of each kind under {@code dir}; the same seed gives the same files. */
    public static void write(Path dir, int count, long seed) throws IOException {
        write(dir, count, count, seed);
    }

    /**
     * Writes {@code textCount} captions and {@code mediaCount} image and video records: text is
     * cheap and a language model wants thousands, while each MP4 costs an encoder run. The media
     * do not depend on {@code textCount}.
     */
    public static void write(Path dir, int textCount, int mediaCount, long seed) throws IOException {
        if (textCount < 0 || mediaCount < 0) {
            throw new IllegalArgumentException("sample counts must be >= 0, got " + textCount + " texts and "
                    + mediaCount + " media");
        }
        Files.createDirectories(dir.resolve("images"));
        Files.createDirectories(dir.resolve("videos"));
        ObjectMapper json = new ObjectMapper();
        SplittableRandom random = new SplittableRandom(seed);
        List<String> text = new ArrayList<>();
        for (String doc : SyntheticText.documents(seed, textCount)) {
            text.add(json.writeValueAsString(Map.of("text", doc)));
        }
        List<String> images = new ArrayList<>();
        List<String> videos = new ArrayList<>();
        for (int i = 0; i < mediaCount; i++) {
            SyntheticText.Scene scene = SyntheticText.scene(random);
            String png = String.format("images/%05d.png", i);
            ImageIO.write(frame(scene, 0), "png", dir.resolve(png).toFile());
            images.add(json.writeValueAsString(Map.of("image", png, "text", scene.caption())));
            String mp4 = String.format("videos/%05d.mp4", i);
            video(scene, dir.resolve(mp4));
            videos.add(json.writeValueAsString(Map.of("video", mp4, "text", scene.motionCaption())));
        }
        Files.write(dir.resolve("text.jsonl"), text);
        Files.write(dir.resolve("image_text.jsonl"), images);
        Files.write(dir.resolve("video_text.jsonl"), videos);
    }

    public static Color colour(String name) {
        return RGB.get(name);
    }

    /** The scene at time {@code t} in [0, 1]: the shape starts at the centre and moves a quarter side. */
    public static BufferedImage frame(SyntheticText.Scene scene, double t) {
        BufferedImage image = new BufferedImage(SIDE, SIDE, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, SIDE, SIDE);
            int size = scene.size().equals("small") ? SIDE / 5 : SIDE / 3;
            double shift = t * SIDE / 4.0;
            double cx = SIDE / 2.0 + switch (scene.motion()) {
                case "left" -> -shift;
                case "right" -> shift;
                default -> 0;
            };
            double cy = SIDE / 2.0 + switch (scene.motion()) {
                case "up" -> -shift;
                case "down" -> shift;
                default -> 0;
            };
            int x = (int) Math.round(cx - size / 2.0);
            int y = (int) Math.round(cy - size / 2.0);
            g.setColor(RGB.get(scene.colour()));
            switch (scene.shape()) {
                case "circle" -> g.fillOval(x, y, size, size);
                case "square" -> g.fillRect(x, y, size, size);
                default -> g.fillPolygon(new int[] {x, x + size / 2, x + size}, new int[] {y + size, y, y + size}, 3);
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    private static void video(SyntheticText.Scene scene, Path file) throws IOException {
        avutil.av_log_set_level(avutil.AV_LOG_QUIET);
        try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), SIDE, SIDE, 0);
                Java2DFrameConverter converter = new Java2DFrameConverter()) {
            recorder.setFormat("mp4");
            recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
            recorder.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
            recorder.setFrameRate(VIDEO_FPS);
            recorder.setVideoQuality(2);
            recorder.start();
            for (int f = 0; f < VIDEO_FRAMES; f++) {
                recorder.record(converter.convert(frame(scene, f / (double) (VIDEO_FRAMES - 1))));
            }
            recorder.stop();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("could not encode " + file + ": " + e.getMessage(), e);
        }
    }
}
