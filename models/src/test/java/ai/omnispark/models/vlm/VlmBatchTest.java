package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The collator's batch on hand-built rows: a row with two images of different sizes in its first
 * document and a text document after them, and a text-only row. The media keys are checked
 * against values written out by hand; the pixels and tables against their own builders.
 */
class VlmBatchTest {
    private static final int IMG = 20;
    private static final int VID = 21;
    private static final int S = 22;
    private static final int E = 23;
    private static final int VOCAB = 24;
    private static final VlmTokens TOKENS = new VlmTokens(IMG, VID, S, E);
    /** 2-pixel patches, 2 frames per temporal patch, 2 x 2 merge: one token per 4 x 4 pixels. */
    private static final VisionGeometry G = new VisionGeometry(3, 2, 2, 2);
    private static final int HEAD_DIM = 8;
    private static final int[] SECTION = {2, 1, 1};
    private static final int VISION_HEAD_DIM = 8;
    private static final int SEQ = 16;

    private static byte[] pixels(SplittableRandom random, int frames, int h, int w) {
        byte[] b = new byte[frames * h * w * 3];
        random.nextBytes(b);
        return b;
    }

    private static Sample mediaRow(byte[] a, byte[] b) {
        // doc 0: S [A: 4x8 px = 2x4 patches = 1x2 tokens] E S [B: 8x4 px = 4x2 patches = 2x1 tokens] E 5
        // doc 1: 6 7 8; then padding
        int[] ids = {S, IMG, IMG, E, S, IMG, IMG, E, 5, 6, 7, 8, 0, 0, 0, 0};
        int[] docs = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, -1, -1, -1, -1};
        int[] positions = {0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 0, 0, 0, 0};
        int[] labels = new int[SEQ];
        java.util.Arrays.fill(labels, Sample.IGNORE);
        labels[8] = E;
        return new Sample(SampleLayout.TOKENS_WITH_MEDIA, Map.of(Sample.INPUT_IDS, ids, Sample.LABELS, labels,
                Sample.POSITION_IDS, positions, Sample.DOC_IDS, docs, Sample.PIXEL_VALUES, List.of(a, b),
                Sample.MEDIA_SHAPES, new int[][] {{1, 4, 8, 3}, {1, 8, 4, 3}}, Sample.MEDIA_DOC_IDS, new int[] {0, 0}));
    }

    private static Sample textRow() {
        int[] ids = new int[SEQ];
        int[] positions = new int[SEQ];
        int[] labels = new int[SEQ];
        for (int i = 0; i < SEQ; i++) {
            ids[i] = i % 10;
            positions[i] = i;
            labels[i] = Sample.IGNORE;
        }
        return Sample.tokens(ids, labels, positions, new int[SEQ]);
    }

    @Test
    void mediaKeysMatchTheHandTable() {
        SplittableRandom random = new SplittableRandom(3);
        byte[] a = pixels(random, 1, 4, 8);
        byte[] b = pixels(random, 1, 8, 4);
        List<Sample> rows = List.of(mediaRow(a, b), textRow());
        VlmCollator collator = new VlmCollator(TOKENS, G, VOCAB, HEAD_DIM, 1e6, SECTION, VISION_HEAD_DIM);
        try (NDManager scope = NDManager.newBaseManager()) {
            Batch batch = collator.collate(scope, rows, DataType.FLOAT64, null);
            assertArrayEquals(new long[] {1, 2, 4, 1, 4, 2}, batch.get(VlmBatch.GRID_THW).toLongArray());
            assertEquals(new Shape(2, 3), batch.get(VlmBatch.GRID_THW).getShape());
            assertArrayEquals(new long[] {8, 8}, batch.get(VlmBatch.VISION_SEGMENTS).toLongArray());
            assertArrayEquals(new long[] {1, 2, 5, 6}, batch.get(VlmBatch.MEDIA_TOKEN_INDEX).toLongArray());
            assertEquals(new Shape(16, G.patchElements()), batch.get(VlmBatch.PIXEL_VALUES).getShape());
            float[] expected = new float[16 * G.patchElements()];
            PixelPatches.write(a, 1, 4, 8, 3, G, expected, 0);
            PixelPatches.write(b, 1, 8, 4, 3, G, expected, 8 * G.patchElements());
            double[] actual = batch.get(VlmBatch.PIXEL_VALUES).toDoubleArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 0.0, "pixel_values element " + i);
            }
            NDList vision = VisionRope.build(scope, List.of(new int[] {1, 2, 4}, new int[] {1, 4, 2}), 2,
                    VISION_HEAD_DIM, DataType.FLOAT64);
            assertArrayEquals(vision.get(0).toDoubleArray(), batch.get(VlmBatch.VISION_ROPE_COS).toDoubleArray(), 0.0);
            assertArrayEquals(vision.get(1).toDoubleArray(), batch.get(VlmBatch.VISION_ROPE_SIN).toDoubleArray(), 0.0);
            // Row 0 by hand: S 0, A (1, 1x2) from 1: (1,1,1) (1,1,2), next 3; E 3, S 4; B (1, 2x1) from 5:
            // (5,5,5) (5,6,5), next 7; E 7, text 8; doc 1: 0 1 2; padding 0. Row 1: 0..15.
            int[][][] positions = {
                {{0, 1, 1, 3, 4, 5, 5, 7, 8, 0, 1, 2, 0, 0, 0, 0},
                 {0, 1, 1, 3, 4, 5, 6, 7, 8, 0, 1, 2, 0, 0, 0, 0},
                 {0, 1, 2, 3, 4, 5, 5, 7, 8, 0, 1, 2, 0, 0, 0, 0}},
                {range(), range(), range()}};
            NDList rope = MropeTables.build(scope, positions, HEAD_DIM, 1e6, SECTION, DataType.FLOAT64);
            assertArrayEquals(rope.get(0).toDoubleArray(), batch.get(TokenBatch.COS).toDoubleArray(), 0.0);
            assertArrayEquals(rope.get(1).toDoubleArray(), batch.get(TokenBatch.SIN).toDoubleArray(), 0.0);
            assertEquals(new Shape(2, SEQ), batch.get(TokenBatch.INPUT_IDS).getShape());
            assertTrue(batch.has(TokenBatch.DOC_IDS));
        }
    }

    private static int[] range() {
        int[] r = new int[SEQ];
        for (int i = 0; i < SEQ; i++) {
            r[i] = i;
        }
        return r;
    }

    @Test
    void aBatchWithoutMediaHasEmptyMediaTensors() {
        VlmCollator collator = new VlmCollator(TOKENS, G, VOCAB, HEAD_DIM, 1e6, SECTION, VISION_HEAD_DIM);
        try (NDManager scope = NDManager.newBaseManager()) {
            Batch batch = collator.collate(scope, List.of(textRow()), DataType.FLOAT32, null);
            assertEquals(new Shape(0, G.patchElements()), batch.get(VlmBatch.PIXEL_VALUES).getShape());
            assertEquals(new Shape(0, 3), batch.get(VlmBatch.GRID_THW).getShape());
            assertEquals(new Shape(0), batch.get(VlmBatch.MEDIA_TOKEN_INDEX).getShape());
            assertEquals(new Shape(0), batch.get(VlmBatch.VISION_SEGMENTS).getShape());
            assertEquals(new Shape(0, VISION_HEAD_DIM), batch.get(VlmBatch.VISION_ROPE_COS).getShape());
            assertFalse(batch.has(TokenBatch.DOC_IDS));
        }
    }

    @Test
    void inconsistentRowsAreRefusedByName() {
        SplittableRandom random = new SplittableRandom(4);
        Sample good = mediaRow(pixels(random, 1, 4, 8), pixels(random, 1, 8, 4));
        Map<String, Object> wrongDoc = new java.util.HashMap<>(good.columns());
        wrongDoc.put(Sample.MEDIA_DOC_IDS, new int[] {0, 1});
        Map<String, Object> wrongShape = new java.util.HashMap<>(good.columns());
        wrongShape.put(Sample.MEDIA_SHAPES, new int[][] {{1, 8, 8, 3}, {1, 8, 4, 3}});
        VlmCollator collator = new VlmCollator(TOKENS, G, VOCAB, HEAD_DIM, 1e6, SECTION, VISION_HEAD_DIM);
        try (NDManager scope = NDManager.newBaseManager()) {
            IllegalArgumentException doc = assertThrows(IllegalArgumentException.class, () -> collator.collate(scope,
                    List.of(new Sample(SampleLayout.TOKENS_WITH_MEDIA, wrongDoc)), DataType.FLOAT32, null));
            assertEquals("row 0: media 1 says it belongs to document 1 (media_doc_ids) but its placeholders start "
                    + "at position 5 in document 0", doc.getMessage());
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> collator.collate(scope,
                    List.of(new Sample(SampleLayout.TOKENS_WITH_MEDIA, wrongShape)), DataType.FLOAT32, null));
            assertTrue(shape.getMessage().contains("media 0 needs 4 placeholders"), shape.getMessage());
        }
        IllegalArgumentException vocab = assertThrows(IllegalArgumentException.class,
                () -> new VlmCollator(TOKENS, G, 23, HEAD_DIM, 1e6, SECTION, VISION_HEAD_DIM));
        assertTrue(vocab.getMessage().contains("outside the vocabulary [0, 23)"), vocab.getMessage());
        IllegalArgumentException section = assertThrows(IllegalArgumentException.class,
                () -> new VlmCollator(TOKENS, G, VOCAB, HEAD_DIM, 1e6, new int[] {2, 2, 2}, VISION_HEAD_DIM));
        assertTrue(section.getMessage().contains("must sum to head_dim / 2 = 4"), section.getMessage());
        IllegalArgumentException vision = assertThrows(IllegalArgumentException.class,
                () -> new VlmCollator(TOKENS, G, VOCAB, HEAD_DIM, 1e6, SECTION, 6));
        assertTrue(vision.getMessage().contains("multiple of 4"), vision.getMessage());
    }
}
