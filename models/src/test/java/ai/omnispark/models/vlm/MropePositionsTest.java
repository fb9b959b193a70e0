package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * M-RoPE positions against tables derived by hand from transformers' {@code get_rope_index}: text
 * advances t, h, w together; a marked media run takes (t, h/m, w/m) grid positions from the next
 * text position; the text after it continues from the largest position + 1. Grids are chosen
 * non-square (and t differing from h and w) so a swapped axis shows.
 */
class MropePositionsTest {
    private static final int IMG = 90;
    private static final int VID = 91;
    private static final int S = 92;
    private static final int E = 93;
    private static final int PAD = 0;
    private static final VlmTokens TOKENS = new VlmTokens(IMG, VID, S, E);
    private static final int M = 2;
    /** 1 frame, 2 x 6 patches: 1 x 3 merged tokens. */
    private static final int[] WIDE = {1, 2, 6};
    /** 1 frame, 4 x 2 patches: 2 x 1 merged tokens. */
    private static final int[] TALL = {1, 4, 2};

    private static int[] zeros(int n) {
        return new int[n];
    }

    private static void assertPositions(int[][] expected, int[][] actual) {
        String[] axis = {"t", "h", "w"};
        for (int a = 0; a < 3; a++) {
            assertArrayEquals(expected[a], actual[a], axis[a] + " positions");
        }
    }

    @Test
    void textOnlyAdvancesAllThreeTogether() {
        int[] ids = {5, 6, 7, 8, 9};
        int[] seq = {0, 1, 2, 3, 4};
        assertPositions(new int[][] {seq, seq, seq}, MropePositions.of(ids, zeros(5), List.of(), TOKENS, M));
    }

    @Test
    void oneImageTakesGridPositionsAfterItsVisionStart() {
        int[] ids = {5, 6, S, IMG, IMG, IMG, E, 7};
        // t1 t2 S: 0 1 2; image (1, 1x3 merged) from 3: (3,3,3) (3,3,4) (3,3,5); next = 3 + max(1,1,3) = 6
        int[][] expected = {
            {0, 1, 2, 3, 3, 3, 6, 7},
            {0, 1, 2, 3, 3, 3, 6, 7},
            {0, 1, 2, 3, 4, 5, 6, 7}};
        assertPositions(expected, MropePositions.of(ids, zeros(8), List.of(WIDE), TOKENS, M));
    }

    @Test
    void twoImagesEachOffsetByTheRunningStart() {
        int[] ids = {S, IMG, IMG, IMG, E, 5, S, IMG, IMG, E, 6};
        // S:0; wide image from 1: (1,1,1)(1,1,2)(1,1,3), next 4; E:4 t:5 S:6;
        // tall image (2x1 merged) from 7: (7,7,7)(7,8,7), next 7 + 2 = 9; E:9 t:10
        int[][] expected = {
            {0, 1, 1, 1, 4, 5, 6, 7, 7, 9, 10},
            {0, 1, 1, 1, 4, 5, 6, 7, 8, 9, 10},
            {0, 1, 2, 3, 4, 5, 6, 7, 7, 9, 10}};
        assertPositions(expected, MropePositions.of(ids, zeros(11), List.of(WIDE, TALL), TOKENS, M));
    }

    @Test
    void anImageWithoutVisionStartIsPositionedAsText() {
        int[] ids = {5, IMG, IMG, IMG, E, 6};
        int[] seq = {0, 1, 2, 3, 4, 5};
        assertPositions(new int[][] {seq, seq, seq}, MropePositions.of(ids, zeros(6), List.of(WIDE), TOKENS, M));
    }

    @Test
    void aVideoAdvancesTimeAcrossItsFrameGroups() {
        // 3 temporal groups of 2 x 4 patches = 1 x 2 merged tokens each: 6 placeholders
        int[] grid = {3, 2, 4};
        int[] ids = {5, S, VID, VID, VID, VID, VID, VID, E, 6};
        // t:0 S:1; from 2: t = 2 + group, h = 2, w = 2 + column; next = 2 + max(3,1,2) = 5; E:5 t:6
        int[][] expected = {
            {0, 1, 2, 2, 3, 3, 4, 4, 5, 6},
            {0, 1, 2, 2, 2, 2, 2, 2, 5, 6},
            {0, 1, 2, 3, 2, 3, 2, 3, 5, 6}};
        assertPositions(expected, MropePositions.of(ids, zeros(10), List.of(grid), TOKENS, M));
    }

    @Test
    void twoDocumentsInOnePackedRowRestartAndPaddingIsZero() {
        int[] ids = {5, S, IMG, IMG, IMG, E, 6, 7, S, IMG, IMG, E, PAD, PAD};
        int[] docs = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1, -1};
        // doc 0: t:0 S:1 wide from 2: (2,2,2)(2,2,3)(2,2,4), next 5; E:5 t:6
        // doc 1: t:0 S:1 tall from 2: (2,2,2)(2,3,2), next 4; E:4; padding 0
        int[][] expected = {
            {0, 1, 2, 2, 2, 5, 6, 0, 1, 2, 2, 4, 0, 0},
            {0, 1, 2, 2, 2, 5, 6, 0, 1, 2, 3, 4, 0, 0},
            {0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 2, 4, 0, 0}};
        assertPositions(expected, MropePositions.of(ids, docs, List.of(WIDE, TALL), TOKENS, M));
    }

    @Test
    void adjacentRunsAreSplitByTheirGrids() {
        // Two marked-less images back to back, then a marked one: the grids, not the token changes, cut the runs.
        int[] ids = {S, IMG, IMG, IMG, IMG, IMG, 5};
        // S:0; wide from 1: (1,1,1)(1,1,2)(1,1,3), next 4; the tall run directly follows an image token, not
        // vision_start, so it is text: 4, 5; t: 6
        int[][] expected = {
            {0, 1, 1, 1, 4, 5, 6},
            {0, 1, 1, 1, 4, 5, 6},
            {0, 1, 2, 3, 4, 5, 6}};
        assertPositions(expected, MropePositions.of(ids, zeros(7), List.of(WIDE, TALL), TOKENS, M));
    }

    @Test
    void mismatchedMediaAreRefusedByName() {
        int[] ids = {S, IMG, IMG, E};
        IllegalArgumentException shortRun = assertThrows(IllegalArgumentException.class,
                () -> MropePositions.of(ids, zeros(4), List.of(WIDE), TOKENS, M));
        assertTrue(shortRun.getMessage().contains("needs 3 placeholders"), shortRun.getMessage());
        IllegalArgumentException extra = assertThrows(IllegalArgumentException.class,
                () -> MropePositions.of(ids, zeros(4), List.of(TALL, WIDE), TOKENS, M));
        assertTrue(extra.getMessage().contains("2 media but 1 placeholder runs"), extra.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> MropePositions.of(ids, zeros(4), List.of(), TOKENS, M));
        assertTrue(none.getMessage().contains("only 0 media"), none.getMessage());
        IllegalArgumentException odd = assertThrows(IllegalArgumentException.class,
                () -> MropePositions.of(ids, zeros(4), List.of(new int[] {1, 3, 2}), TOKENS, M));
        assertTrue(odd.getMessage().contains("spatial_merge_size"), odd.getMessage());
        IllegalArgumentException split = assertThrows(IllegalArgumentException.class,
                () -> MropePositions.of(ids, new int[] {0, 0, 1, 1}, List.of(TALL), TOKENS, M));
        assertTrue(split.getMessage().contains("document ends"), split.getMessage());
    }
}
