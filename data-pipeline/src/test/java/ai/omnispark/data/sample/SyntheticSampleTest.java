package ai.omnispark.data.sample;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.media.VideoDecoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticSampleTest {
    private static final MediaOptions OPTIONS = new MediaOptions(14, 2, 28 * 28, 112 * 112, 4.0, 8, 2);

    @TempDir
    Path tmp;

    /** Mean x and y of the pixels close to {@code colour} in frame {@code t}. */
    private static double[] centroid(Media m, int t, Color colour) {
        double sx = 0;
        double sy = 0;
        int n = 0;
        int base = t * m.height() * m.width() * 3;
        for (int y = 0; y < m.height(); y++) {
            for (int x = 0; x < m.width(); x++) {
                int i = base + (y * m.width() + x) * 3;
                int dr = (m.pixels()[i] & 0xFF) - colour.getRed();
                int dg = (m.pixels()[i + 1] & 0xFF) - colour.getGreen();
                int db = (m.pixels()[i + 2] & 0xFF) - colour.getBlue();
                if (dr * dr + dg * dg + db * db < 60 * 60) {
                    sx += x;
                    sy += y;
                    n++;
                }
            }
        }
        assertTrue(n > 20, "the shape's colour is visible in frame " + t);
        return new double[] {sx / n, sy / n};
    }

    @Test
    void captionsDescribeWhatTheMediaShow() throws Exception {
        SyntheticSample.write(tmp, 4, 5);
        ObjectMapper json = new ObjectMapper();
        assertEquals(4, Files.readAllLines(tmp.resolve("text.jsonl")).size());
        List<String> images = Files.readAllLines(tmp.resolve("image_text.jsonl"));
        List<String> videos = Files.readAllLines(tmp.resolve("video_text.jsonl"));
        SplittableRandom drawn = new SplittableRandom(5);
        for (int i = 0; i < 4; i++) {
            JsonNode image = json.readTree(images.get(i));
            String[] words = image.get("text").asText().split(" ");
            Media m = new ImageDecoder(OPTIONS).decode(Files.readAllBytes(tmp.resolve(image.get("image").asText())));
            double[] c = centroid(m, 0, SyntheticSample.colour(words[2]));
            // Where the picture drawn from the same seed puts the shape: the centre of its bounding
            // square, or for a triangle (apex up) the centroid, two thirds of the way down.
            SyntheticSample.Placement p = SyntheticSample.picture(drawn).placement();
            double down = words[3].startsWith("triangle") ? 2.0 / 3 : 0.5;
            assertEquals(p.x() + p.side() / 2.0, c[0], 2, "the " + words[3] + "'s x, " + p);
            assertEquals(p.y() + p.side() * down, c[1], 2, "the " + words[3] + "'s y, " + p);

            JsonNode video = json.readTree(videos.get(i));
            String caption = video.get("text").asText();
            String colour = caption.split(" ")[2];
            String motion = caption.substring(caption.indexOf("moves ") + 6, caption.length() - 1);
            Media v = new VideoDecoder(OPTIONS).decode(Files.readAllBytes(tmp.resolve(video.get("video").asText())));
            assertEquals(SyntheticSample.VIDEO_FRAMES, v.frames());
            double[] first = centroid(v, 0, SyntheticSample.colour(colour));
            double[] last = centroid(v, v.frames() - 1, SyntheticSample.colour(colour));
            double dx = last[0] - first[0];
            double dy = last[1] - first[1];
            switch (motion) {
                case "left" -> assertTrue(dx < -20, caption + " dx=" + dx);
                case "right" -> assertTrue(dx > 20, caption + " dx=" + dx);
                case "up" -> assertTrue(dy < -20, caption + " dy=" + dy);
                default -> assertTrue(dy > 20, caption + " dy=" + dy);
            }
        }
    }

    @Test
    void eachImagePlacesItsShapeAnewWithinItsSizeClassAndColour() {
        SplittableRandom random = new SplittableRandom(3);
        Set<String> corners = new HashSet<>();
        Set<Integer> sides = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            SyntheticSample.Picture picture = SyntheticSample.picture(random);
            SyntheticSample.Placement p = picture.placement();
            boolean small = picture.scene().size().equals("small");
            assertTrue(small ? p.side() >= 18 && p.side() <= 26 : p.side() >= 34 && p.side() <= 42,
                    picture.scene() + " side " + p.side());
            assertTrue(p.x() >= 2 && p.y() >= 2 && p.x() + p.side() <= SyntheticSample.SIDE - 2
                    && p.y() + p.side() <= SyntheticSample.SIDE - 2, "the whole shape is inside the frame: " + p);
            // The fill stays nearer its own named colour than any other: within the jitter per channel.
            Color named = SyntheticSample.colour(picture.scene().colour());
            assertTrue(Math.abs(p.fill().getRed() - named.getRed()) <= SyntheticSample.JITTER
                    && Math.abs(p.fill().getGreen() - named.getGreen()) <= SyntheticSample.JITTER
                    && Math.abs(p.fill().getBlue() - named.getBlue()) <= SyntheticSample.JITTER, p.toString());
            for (String other : SyntheticText.COLOURS) {
                if (!other.equals(picture.scene().colour())) {
                    assertTrue(distance(p.fill(), SyntheticSample.colour(other)) > distance(p.fill(), named),
                            p + " is nearer " + other + " than " + picture.scene().colour());
                }
            }
            corners.add(p.x() + "," + p.y());
            sides.add(p.side());
        }
        assertTrue(corners.size() > 150, "positions vary: " + corners.size() + " distinct corners in 200");
        assertTrue(sides.size() >= 15, "sides vary: " + sides);
    }

    @Test
    void theSameSeedWritesTheSameImagesAndAnotherSeedOthers() throws Exception {
        SyntheticSample.write(tmp.resolve("a"), 1, 3, 8);
        SyntheticSample.write(tmp.resolve("b"), 1, 3, 8);
        SyntheticSample.write(tmp.resolve("c"), 1, 3, 9);
        for (int i = 0; i < 3; i++) {
            String png = String.format("images/%05d.png", i);
            byte[] a = Files.readAllBytes(tmp.resolve("a").resolve(png));
            assertTrue(Arrays.equals(a, Files.readAllBytes(tmp.resolve("b").resolve(png))), png);
            assertTrue(!Arrays.equals(a, Files.readAllBytes(tmp.resolve("c").resolve(png))), png);
        }
        assertEquals(Files.readAllLines(tmp.resolve("a").resolve("image_text.jsonl")),
                Files.readAllLines(tmp.resolve("b").resolve("image_text.jsonl")));
    }

    private static double distance(Color a, Color b) {
        return Math.pow(a.getRed() - b.getRed(), 2) + Math.pow(a.getGreen() - b.getGreen(), 2)
                + Math.pow(a.getBlue() - b.getBlue(), 2);
    }
}
