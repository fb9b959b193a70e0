package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench caption}'s scoring: a hand table of captions, and the whole bench with fake
 * captioners that see only the PNG (one reads the colour of the shape and always says
 * "circle"), whose accuracies are known from the scenes the seed draws.
 */
class BenchCaptionTest {
    @TempDir
    Path tmp;

    private static final SyntheticText.Scene SMALL_RED_CIRCLE = new SyntheticText.Scene("red", "circle", "small", "up");

    @Test
    void theFirstNamedColourShapeAndSizeCount() {
        // caption, colour right, shape right, size right
        Object[][] table = {
            {"a small red circle on a white background.", true, true, true},
            {"a small green circle", false, true, true},
            {"a large red square", true, false, false},
            {"green red blue: circle, square", false, true, false},
            {"A SMALL RED CIRCLE", true, true, true},
            {"a small redcircle", false, false, true},
            {"", false, false, false},
            {"a small purple triangle", false, false, true},
        };
        for (Object[] row : table) {
            String caption = (String) row[0];
            assertEquals(row[1], CaptionScore.colour(SMALL_RED_CIRCLE, caption), "colour of '" + caption + "'");
            assertEquals(row[2], CaptionScore.shape(SMALL_RED_CIRCLE, caption), "shape of '" + caption + "'");
            assertEquals(row[3], CaptionScore.size(SMALL_RED_CIRCLE, caption), "size of '" + caption + "'");
        }
    }

    @Test
    void aCaptionerThatReadsTheColourAndAlwaysSaysCircleScoresAsTheScenesSay() {
        long seed = 99;
        int images = 40;
        BenchCaption.Result r = BenchCaption.measure(BenchCaptionTest::shapeColourCircle, images, seed);
        SplittableRandom random = new SplittableRandom(seed);
        int circles = 0;
        int red = 0;
        for (int i = 0; i < images; i++) {
            SyntheticText.Scene scene = SyntheticSample.picture(random).scene();
            circles += scene.shape().equals("circle") ? 1 : 0;
            red += scene.colour().equals("red") ? 1 : 0;
        }
        assertTrue(circles > 0 && circles < images, "the seed should draw some circles and some other shapes");
        assertTrue(red > 0 && red < images, "the seed should draw some red shapes and some others");
        assertEquals(images, r.images());
        assertEquals(1.0, r.colourAccuracy());
        assertEquals((double) circles / images, r.shapeAccuracy(), 1e-12);
        assertEquals(0.0, r.sizeAccuracy());
        assertEquals(5, r.examples().size());

        // A blind captioner (always "red") scores the share of red scenes among the pictures so drawn.
        BenchCaption.Result blind = BenchCaption.measure(png -> "a red circle", images, seed);
        assertEquals((double) red / images, blind.colourAccuracy(), 1e-12);
    }

    @Test
    void theBenchsPicturesAreTheSamplesWayOfDrawingFromItsOwnSeed() throws Exception {
        // The bench's pictures for seed S are the image files `sample --seed S` writes, pixel for pixel
        // (so --seed 42 would redraw the training set, which is why it is refused) ...
        Path sample = tmp.resolve("sample");
        SyntheticSample.write(sample, 1, 6, 42);
        List<String> lines = Files.readAllLines(sample.resolve("image_text.jsonl"));
        SplittableRandom same = new SplittableRandom(42);
        for (String line : lines) {
            String path = new ObjectMapper().readTree(line).get("image").asText();
            assertArrayEquals(pixels(ImageIO.read(sample.resolve(path).toFile())),
                    pixels(ImageIO.read(new ByteArrayInputStream(BenchCaption.png(SyntheticSample.picture(same))))),
                    path);
        }
        // ... and the default seed's 50 draw none of the 400 images of `sample --media 400` (seed 42).
        List<int[]> trained = new ArrayList<>();
        SplittableRandom training = new SplittableRandom(BenchCaption.SAMPLE_SEED);
        for (int i = 0; i < 400; i++) {
            trained.add(pixels(SyntheticSample.picture(training).render()));
        }
        SplittableRandom fresh = new SplittableRandom(BenchCaption.DEFAULT_SEED);
        for (int i = 0; i < 50; i++) {
            int[] picture = pixels(ImageIO.read(new ByteArrayInputStream(BenchCaption.png(SyntheticSample.picture(fresh)))));
            for (int j = 0; j < trained.size(); j++) {
                assertFalse(Arrays.equals(picture, trained.get(j)), "fresh picture " + i + " is training image " + j);
            }
        }
        String refused = runText(2, "bench", "caption", "--model", "nowhere", "--seed", "42");
        assertTrue(refused.contains("--seed 42 is the training sample's seed"), refused);
        String refusedToo = runText(2, "bench", "caption", "--model", "nowhere", "--seed", "7", "--sample-seed", "7");
        assertTrue(refusedToo.contains("--seed 7 is the training sample's seed"), refusedToo);
    }

    @Test
    void badOptionsAreNamed() {
        assertTrue(runText(2, "bench", "caption", "--model", "nowhere", "--seed", "x").contains("--seed takes an integer"));
        assertTrue(runText(2, "bench", "caption", "--model", "nowhere", "--images", "0").contains("--images must be > 0"));
    }

    private static int[] pixels(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    /** Names the sample colour nearest the pixel farthest from white (inside the shape), and "circle" whatever the shape. */
    private static String shapeColourCircle(byte[] png) {
        BufferedImage image;
        try {
            image = ImageIO.read(new ByteArrayInputStream(png));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Color c = Color.WHITE;
        double farthest = -1;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                Color p = new Color(image.getRGB(x, y));
                double d = distance(p, Color.WHITE);
                if (d > farthest) {
                    farthest = d;
                    c = p;
                }
            }
        }
        String best = null;
        double bestDistance = Double.MAX_VALUE;
        for (String name : SyntheticText.COLOURS) {
            double d = distance(c, SyntheticSample.colour(name));
            if (d < bestDistance) {
                bestDistance = d;
                best = name;
            }
        }
        return "the " + best + " circle";
    }

    private static double distance(Color a, Color b) {
        return Math.pow(a.getRed() - b.getRed(), 2) + Math.pow(a.getGreen() - b.getGreen(), 2)
                + Math.pow(a.getBlue() - b.getBlue(), 2);
    }

    private static String runText(int expectedExit, String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, code, text);
        return text;
    }
}
