package ai.omnispark.data.latent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ByteTextEmbedderTest {
    private static float[] row(float[] e, int dim, int r) {
        return Arrays.copyOfRange(e, r * dim, (r + 1) * dim);
    }

    @Test
    void theEmptyTextIsAllZeros() {
        float[] e = new ByteTextEmbedder(32, 10).embed("");
        assertEquals(320, e.length);
        for (float v : e) {
            assertEquals(0f, v);
        }
    }

    @Test
    void eachRowIsItsByteItsWordAndItsPositionThenZeroPadding() {
        ByteTextEmbedder embedder = new ByteTextEmbedder(32, 10);
        float[] e = embedder.embed("red x");
        assertArrayEquals(row(e, 32, 0), row(embedder.embed("red y"), 32, 0),
                "the same byte in the same word at the same position: the same row, whatever follows");
        assertFalse(Arrays.equals(row(e, 32, 0), row(embedder.embed("rex x"), 32, 0)),
                "the same byte at the same position in another word");
        assertFalse(Arrays.equals(row(embedder.embed("a"), 32, 0), row(embedder.embed(" a"), 32, 1)),
                "the same byte and word at another position");
        // The word term is shared by the word's bytes: two texts that differ only in one word differ
        // in that word's rows only.
        float[] orange = embedder.embed("a orange");
        float[] yellow = embedder.embed("a yellow");
        assertArrayEquals(row(orange, 32, 0), row(yellow, 32, 0));
        assertArrayEquals(row(orange, 32, 1), row(yellow, 32, 1));
        for (int r = 2; r < 8; r++) {
            assertFalse(Arrays.equals(row(orange, 32, r), row(yellow, 32, r)), "row " + r);
        }
        for (int r = 5; r < 10; r++) {
            assertArrayEquals(new float[32], row(e, 32, r), "padding row " + r);
        }
        // Two UTF-8 bytes, two rows.
        float[] accent = embedder.embed("é");
        assertFalse(Arrays.equals(new float[32], row(accent, 32, 1)));
        assertArrayEquals(new float[32], row(accent, 32, 2));
    }

    @Test
    void deterministicAcrossInstancesAndSeededDifferently() {
        assertArrayEquals(new ByteTextEmbedder(64, 16).embed("a red circle"),
                new ByteTextEmbedder(64, 16, ByteTextEmbedder.DEFAULT_SEED).embed("a red circle"));
        assertFalse(Arrays.equals(new ByteTextEmbedder(64, 16).embed("a"), new ByteTextEmbedder(64, 16, 3).embed("a")));
    }

    @Test
    void longTextsAreCutAtTextLenAndRowsHaveAboutUnitNorm() {
        ByteTextEmbedder embedder = new ByteTextEmbedder(4096, 4);
        float[] e = embedder.embed("abcd efgh");
        assertArrayEquals(embedder.embed("abcd"), e);
        assertArrayEquals(new int[] {4, 4096}, embedder.shape());
        double norm = 0;
        for (float v : row(e, 4096, 0)) {
            norm += (double) v * v;
        }
        // (three independent N(0, 1/4096) per element) / sqrt(3) is N(0, 1/4096): a sum of 4096
        // squares has mean 1 and standard deviation sqrt(2/4096) = 0.022.
        assertEquals(1.0, Math.sqrt(norm), 0.1);
    }

    @Test
    void badSizesAreNamed() {
        assertEquals("data.text_embed_dim must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new ByteTextEmbedder(0, 4)).getMessage());
        assertEquals("data.text_embed_len must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new ByteTextEmbedder(4, 0)).getMessage());
    }
}
