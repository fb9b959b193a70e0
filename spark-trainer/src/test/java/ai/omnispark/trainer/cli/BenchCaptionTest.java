package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * {@code bench caption}'s scoring: a hand table of captions, and the whole bench with fake
 * captioners that see only the PNG (one reads the colour of the centre pixel and always says
 * "circle"), whose accuracies are known from the scenes the seed draws.
 */
class BenchCaptionTest {
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
        BenchCaption.Result r = BenchCaption.measure(BenchCaptionTest::centreColourCircle, images, seed, 0);
        SplittableRandom random = new SplittableRandom(seed);
        int circles = 0;
        for (int i = 0; i < images; i++) {
            circles += SyntheticText.scene(random).shape().equals("circle") ? 1 : 0;
        }
        assertTrue(circles > 0 && circles < images, "the seed should draw some circles and some other shapes");
        assertEquals(images, r.images());
        assertEquals(1.0, r.colourAccuracy());
        assertEquals((double) circles / images, r.shapeAccuracy(), 1e-12);
        assertEquals(0.0, r.sizeAccuracy());
        assertEquals(5, r.examples().size());

        // With --moved each scene also draws its shift (after the scene); a blind captioner (always "red")
        // scores the share of red scenes so drawn.
        BenchCaption.Result blind = BenchCaption.measure(png -> "a red circle", images, seed, 0.5);
        SplittableRandom again = new SplittableRandom(seed);
        int red = 0;
        for (int i = 0; i < images; i++) {
            red += SyntheticText.scene(again).colour().equals("red") ? 1 : 0;
            again.nextDouble();
        }
        assertEquals((double) red / images, blind.colourAccuracy(), 1e-12);
    }

    @Test
    void badOptionsAreNamed() {
        assertTrue(runText(2, "bench", "caption", "--model", "nowhere", "--moved", "2").contains("--moved must be in [0, 1]"));
        assertTrue(runText(2, "bench", "caption", "--model", "nowhere", "--images", "0").contains("--images must be > 0"));
    }

    /** Names the sample colour nearest the centre pixel, and "circle" whatever the shape. */
    private static String centreColourCircle(byte[] png) {
        BufferedImage image;
        try {
            image = ImageIO.read(new ByteArrayInputStream(png));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Color c = new Color(image.getRGB(SyntheticSample.SIDE / 2, SyntheticSample.SIDE / 2));
        String best = null;
        double bestDistance = Double.MAX_VALUE;
        for (String name : SyntheticText.COLOURS) {
            Color n = SyntheticSample.colour(name);
            double d = Math.pow(c.getRed() - n.getRed(), 2) + Math.pow(c.getGreen() - n.getGreen(), 2)
                    + Math.pow(c.getBlue() - n.getBlue(), 2);
            if (d < bestDistance) {
                bestDistance = d;
                best = name;
            }
        }
        return "the " + best + " circle";
    }

    private static String runText(int expectedExit, String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, code, text);
        return text;
    }
}
