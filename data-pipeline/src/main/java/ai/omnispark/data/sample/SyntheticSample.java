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
 * with MP4s of a shape moving in one direction from the centre. Each caption says exactly what its
 * image or video shows, so a model can learn the pairing. Media paths in the JSON are relative to DIR.
 *
 * <p>Each image places its shape anew ({@link #place}): a random side within its size class, a
 * random position with the whole shape inside the frame, and the fill colour jittered by at most
 * {@value #JITTER} per channel, so that a model has to find the colour and shape rather than
 * memorise a few dozen pixel grids, and so that images drawn from another seed are new to it.
 */
public final class SyntheticSample {
    public static final int SIDE = 112;
    public static final int VIDEO_FRAMES = 8;
    public static final int VIDEO_FPS = 4;
    /**
     * Largest change of a fill channel: at most 12·√3 ≈ 21 away from the named colour, under half
     * the closest two named colours' distance (yellow and orange, 80), so the fill stays nearest its name.
     */
    public static final int JITTER = 12;
    /** A small shape's side is in [18, 26] pixels, a large one's in [34, 42]: the classes never meet. */
    static final int SMALL_MIN = 18;
    static final int SMALL_MAX = 26;
    static final int LARGE_MIN = 34;
    static final int LARGE_MAX = 42;
    /** Pixels of white kept between the shape and the frame's edge. */
    static final int MARGIN = 2;

    private static final Map<String, Color> RGB = Map.of("red", new Color(220, 30, 30), "green", new Color(30, 160, 50),
            "blue", new Color(30, 60, 220), "yellow", new Color(240, 210, 20), "purple", new Color(140, 40, 170),
            "orange", new Color(245, 130, 20));

    private SyntheticSample() {}

    /** Where a shape is drawn: the top-left corner and side of its bounding square, and its fill. */
    public record Placement(int x, int y, int side, Color fill) {}

    /** One image record: what it shows (its caption) and how it is drawn. */
    public record Picture(SyntheticText.Scene scene, Placement placement) {
        public BufferedImage render() {
            return SyntheticSample.render(scene, placement);
        }
    }

    /**
     * The next image record from {@code random}: the scene, then its placement. {@link #write} draws
     * its images this way, so the same seed gives the same pictures to anyone drawing them.
     */
    public static Picture picture(SplittableRandom random) {
        SyntheticText.Scene scene = SyntheticText.scene(random);
        return new Picture(scene, place(scene, random));
    }

    /** A random placement of {@code scene}'s shape: side within its size class, wholly inside the frame, fill jittered. */
    public static Placement place(SyntheticText.Scene scene, SplittableRandom random) {
        boolean small = scene.size().equals("small");
        int side = small ? random.nextInt(SMALL_MIN, SMALL_MAX + 1) : random.nextInt(LARGE_MIN, LARGE_MAX + 1);
        int x = random.nextInt(MARGIN, SIDE - MARGIN - side + 1);
        int y = random.nextInt(MARGIN, SIDE - MARGIN - side + 1);
        Color c = RGB.get(scene.colour());
        Color fill = new Color(jitter(c.getRed(), random), jitter(c.getGreen(), random), jitter(c.getBlue(), random));
        return new Placement(x, y, side, fill);
    }

    private static int jitter(int channel, SplittableRandom random) {
        return Math.max(0, Math.min(255, channel + random.nextInt(-JITTER, JITTER + 1)));
    }

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
            Picture picture = picture(random);
            SyntheticText.Scene scene = picture.scene();
            String png = String.format("images/%05d.png", i);
            ImageIO.write(picture.render(), "png", dir.resolve(png).toFile());
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

    /**
     * The video's frame at time {@code t} in [0, 1]: the shape (side SIDE/5 or SIDE/3, the named
     * colour exactly) starts at the centre and moves a quarter side.
     */
    public static BufferedImage frame(SyntheticText.Scene scene, double t) {
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
        return render(scene, new Placement(x, y, size, RGB.get(scene.colour())));
    }

    /** {@code scene}'s shape drawn at {@code p} on white. */
    public static BufferedImage render(SyntheticText.Scene scene, Placement p) {
        BufferedImage image = new BufferedImage(SIDE, SIDE, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, SIDE, SIDE);
            int x = p.x();
            int y = p.y();
            int size = p.side();
            g.setColor(p.fill());
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
