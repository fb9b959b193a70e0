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
import java.util.List;
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
        for (int i = 0; i < 4; i++) {
            JsonNode image = json.readTree(images.get(i));
            String[] words = image.get("text").asText().split(" ");
            Media m = new ImageDecoder(OPTIONS).decode(Files.readAllBytes(tmp.resolve(image.get("image").asText())));
            double[] c = centroid(m, 0, SyntheticSample.colour(words[2]));
            assertEquals(56, c[0], 6, "the " + words[3] + " sits in the middle");

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
}
