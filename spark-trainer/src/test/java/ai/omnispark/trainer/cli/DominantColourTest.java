package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import java.awt.Color;
import org.junit.jupiter.api.Test;

/**
 * The bench's colour classifier on hand-made frames: every palette colour as a flat patch on white,
 * the same patch faded halfway to white (a blurry generation; nearest-RGB would call faded red
 * orange, since (237, 142, 142) is closer to orange's (245, 130, 20) than to red's (220, 30, 30)),
 * the larger of two patches winning, and white or near-white frames having none.
 */
class DominantColourTest {
    private static final int SIDE = 16;

    @Test
    void namesEachPaletteColourFlatAndFaded() {
        for (String name : SyntheticText.COLOURS) {
            Color c = SyntheticSample.colour(name);
            assertEquals(name, DominantColour.of(frame(new int[] {c.getRed(), c.getGreen(), c.getBlue()}, 20, null, 0)),
                    name);
            int[] faded = {(c.getRed() + 255) / 2, (c.getGreen() + 255) / 2, (c.getBlue() + 255) / 2};
            assertEquals(name, DominantColour.of(frame(faded, 20, null, 0)), "faded " + name);
        }
    }

    @Test
    void theLargerPatchWinsAndWhiteHasNone() {
        int[] red = {220, 30, 30};
        int[] blue = {30, 60, 220};
        assertEquals("blue", DominantColour.of(frame(red, 20, blue, 60)));
        assertEquals("red", DominantColour.of(frame(red, 60, blue, 20)));
        assertNull(DominantColour.of(frame(red, 0, null, 0)));
        // 20 levels off white everywhere: ink 35, under the background threshold.
        assertNull(DominantColour.of(frame(new int[] {235, 235, 235}, SIDE * SIDE, null, 0)));
    }

    /** A white SIDE x SIDE frame whose first {@code n} pixels are {@code a}, the next {@code m} {@code b}. */
    private static byte[] frame(int[] a, int n, int[] b, int m) {
        byte[] rgb = new byte[SIDE * SIDE * 3];
        java.util.Arrays.fill(rgb, (byte) 255);
        for (int i = 0; i < n + m; i++) {
            int[] c = i < n ? a : b;
            for (int k = 0; k < 3; k++) {
                rgb[3 * i + k] = (byte) c[k];
            }
        }
        return rgb;
    }
}
