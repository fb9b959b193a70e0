package ai.omnispark.data.sample;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Captions of simple scenes of coloured shapes. The same vocabulary describes the synthetic images
 * and videos, so a model trained on the text can learn what the media show.
 */
public final class SyntheticText {
    public static final String[] COLOURS = {"red", "green", "blue", "yellow", "purple", "orange"};
    public static final String[] SHAPES = {"circle", "square", "triangle"};
    public static final String[] SIZES = {"small", "large"};
    public static final String[] MOTIONS = {"left", "right", "up", "down"};

    private SyntheticText() {}

    /** One scene: what a caption, an image or a video of it shows. */
    public record Scene(String colour, String shape, String size, String motion) {
        public String caption() {
            return "a " + size + " " + colour + " " + shape + " on a white background.";
        }

        public String motionCaption() {
            return "a " + size + " " + colour + " " + shape + " moves " + motion + ".";
        }
    }

    public static Scene scene(SplittableRandom random) {
        return new Scene(COLOURS[random.nextInt(COLOURS.length)],
                SHAPES[random.nextInt(SHAPES.length)],
                SIZES[random.nextInt(SIZES.length)],
                MOTIONS[random.nextInt(MOTIONS.length)]);
    }

    /** {@code count} short documents, each a few captions, reproducible from {@code seed}. */
    public static List<String> documents(long seed, int count) {
        SplittableRandom random = new SplittableRandom(seed);
        List<String> docs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int sentences = 1 + random.nextInt(4);
            StringBuilder text = new StringBuilder();
            for (int s = 0; s < sentences; s++) {
                Scene scene = scene(random);
                if (s > 0) {
                    text.append(' ');
                }
                text.append(random.nextBoolean() ? scene.caption() : scene.motionCaption());
            }
            docs.add(text.toString());
        }
        return docs;
    }
}
