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
    void eachByteHasOneFixedRowThenZeroPadding() {
        ByteTextEmbedder embedder = new ByteTextEmbedder(32, 10);
        float[] e = embedder.embed("abca");
        assertArrayEquals(row(e, 32, 0), row(e, 32, 3), "the same byte, the same row");
        assertArrayEquals(row(embedder.embed("a"), 32, 0), row(e, 32, 0), "a byte's row does not depend on context");
        assertFalse(Arrays.equals(row(e, 32, 0), row(e, 32, 1)));
        for (int r = 4; r < 10; r++) {
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
        float[] e = embedder.embed("abcdefgh");
        assertArrayEquals(embedder.embed("abcd"), e);
        assertArrayEquals(new int[] {4, 4096}, embedder.shape());
        double norm = 0;
        for (float v : row(e, 4096, 0)) {
            norm += (double) v * v;
        }
        // A sum of 4096 squared N(0, 1/4096): mean 1, standard deviation sqrt(2/4096) = 0.022.
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
