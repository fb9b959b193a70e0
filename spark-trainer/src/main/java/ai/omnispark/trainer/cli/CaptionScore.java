package ai.omnispark.trainer.cli;

import ai.omnispark.data.sample.SyntheticText;
import java.util.Arrays;
import java.util.Locale;

/**
 * Whether a caption names a scene's colour, shape and size: the FIRST colour word (of
 * {@link SyntheticText#COLOURS}) in the caption must be the scene's, and likewise for shapes and
 * sizes, so a caption that lists every colour is right only when it starts with the true one.
 */
final class CaptionScore {
    private CaptionScore() {}

    static boolean colour(SyntheticText.Scene scene, String caption) {
        return scene.colour().equals(first(caption, SyntheticText.COLOURS));
    }

    static boolean shape(SyntheticText.Scene scene, String caption) {
        return scene.shape().equals(first(caption, SyntheticText.SHAPES));
    }

    static boolean size(SyntheticText.Scene scene, String caption) {
        return scene.size().equals(first(caption, SyntheticText.SIZES));
    }

    /** The first word of {@code caption} (split at non-letters, lower-cased) that is one of {@code words}; null if none. */
    static String first(String caption, String[] words) {
        for (String w : caption.toLowerCase(Locale.ROOT).split("[^a-z]+")) {
            if (Arrays.asList(words).contains(w)) {
                return w;
            }
        }
        return null;
    }
}
