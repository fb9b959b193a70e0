package ai.omnispark.trainer.cli;

import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import java.awt.Color;

/**
 * The dominant non-white colour of RGB frames, among the sample's palette
 * ({@link SyntheticText#COLOURS}). A pixel is judged by its ink, white − pixel: a palette colour
 * blended with white by any amount (anti-aliased edges, a blurry generation) keeps its ink's
 * direction and only shortens it, so each pixel whose ink is longer than {@link #MIN_INK} goes to
 * the colour whose ink points the closest way (largest cosine), weighted by its ink's length. The
 * dominant colour has the most ink; frames with no such pixel have none.
 */
final class DominantColour {
    /** Ink (Euclidean distance from white, 0–441) under which a pixel counts as white background. */
    static final double MIN_INK = 40;

    private DominantColour() {}

    /** The dominant colour's name, or null when no pixel is far enough from white. */
    static String of(byte[] rgb) {
        String[] names = SyntheticText.COLOURS;
        double[][] inks = new double[names.length][];
        for (int k = 0; k < names.length; k++) {
            Color c = SyntheticSample.colour(names[k]);
            inks[k] = unit(255.0 - c.getRed(), 255.0 - c.getGreen(), 255.0 - c.getBlue());
        }
        double[] weight = new double[names.length];
        for (int i = 0; i + 2 < rgb.length; i += 3) {
            double r = 255.0 - (rgb[i] & 0xFF);
            double g = 255.0 - (rgb[i + 1] & 0xFF);
            double b = 255.0 - (rgb[i + 2] & 0xFF);
            double length = Math.sqrt(r * r + g * g + b * b);
            if (length <= MIN_INK) {
                continue;
            }
            int best = 0;
            double bestCos = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < names.length; k++) {
                double cos = (r * inks[k][0] + g * inks[k][1] + b * inks[k][2]) / length;
                if (cos > bestCos) {
                    bestCos = cos;
                    best = k;
                }
            }
            weight[best] += length;
        }
        int best = -1;
        for (int k = 0; k < names.length; k++) {
            if (weight[k] > 0 && (best < 0 || weight[k] > weight[best])) {
                best = k;
            }
        }
        return best < 0 ? null : names[best];
    }

    private static double[] unit(double r, double g, double b) {
        double n = Math.sqrt(r * r + g * g + b * b);
        return new double[] {r / n, g / n, b / n};
    }
}
