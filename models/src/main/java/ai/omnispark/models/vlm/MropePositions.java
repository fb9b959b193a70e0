package ai.omnispark.models.vlm;

import java.util.List;

/**
 * Qwen2-VL's 3-D rotary positions (t, h, w) of one packed row, with the semantics of transformers'
 * {@code Qwen2VLForConditionalGeneration.get_rope_index}, applied per document so positions restart
 * in every document of a packed row.
 *
 * <p>Text advances all three rows together. A media placeholder run that directly follows a
 * {@code vision_start} token takes the grid positions (t, h/m, w/m) of its merged patches, offset by
 * the position the next text token would have had; the text after it continues from the largest
 * position so far + 1. A run without {@code vision_start} is positioned like text.
 *
 * <p>Where this differs from transformers: transformers locates the runs it counts with
 * {@code list.index(placeholder)}, so in a row where an unmarked run precedes a marked one it gives
 * the grid positions to the unmarked run. Here each run keeps its own grid and only marked runs
 * take grid positions. Rows whose runs are all marked (what the prepare step writes) or all
 * unmarked agree.
 */
public final class MropePositions {
    private MropePositions() {}

    /**
     * @param inputIds one row's token ids
     * @param docIds per position, its document within the row (-1 on padding); positions restart at
     *     every change of document id. Padding gets position 0.
     * @param grids (t, h, w) in patches of each media, in the order its placeholder run appears in
     *     the row, images and videos together
     * @return {@code [3][S]}: the t, h and w position of each token
     */
    public static int[][] of(int[] inputIds, int[] docIds, List<int[]> grids, VlmTokens tokens, int spatialMergeSize) {
        if (inputIds.length != docIds.length) {
            throw new IllegalArgumentException("input_ids has " + inputIds.length + " entries but doc_ids "
                    + docIds.length);
        }
        if (spatialMergeSize < 1) {
            throw new IllegalArgumentException("spatial_merge_size must be >= 1, got " + spatialMergeSize);
        }
        int s = inputIds.length;
        int[][] positions = new int[3][s];
        int media = 0;
        int start = 0;
        while (start < s) {
            int end = start + 1;
            while (end < s && docIds[end] == docIds[start]) {
                end++;
            }
            if (docIds[start] < 0) {
                for (int i = start; i < end; i++) {
                    if (tokens.isPlaceholder(inputIds[i])) {
                        throw new IllegalArgumentException("placeholder id " + inputIds[i] + " at position " + i
                                + " lies in padding (doc id " + docIds[start] + ")");
                    }
                }
            } else {
                media = document(inputIds, start, end, grids, media, tokens, spatialMergeSize, positions);
            }
            start = end;
        }
        if (media != grids.size()) {
            throw new IllegalArgumentException("the row has " + grids.size() + " media but " + media
                    + " placeholder runs");
        }
        return positions;
    }

    /** Positions of one document [start, end); returns the index of the next unused media. */
    private static int document(int[] ids, int start, int end, List<int[]> grids, int media, VlmTokens tokens,
            int m, int[][] out) {
        int next = 0;
        int i = start;
        while (i < end) {
            if (!tokens.isPlaceholder(ids[i])) {
                set(out, i, next, next, next);
                next++;
                i++;
                continue;
            }
            if (media >= grids.size()) {
                throw new IllegalArgumentException("placeholder id " + ids[i] + " at position " + i
                        + " starts a media run, but the row has only " + grids.size() + " media");
            }
            int[] grid = grids.get(media);
            if (grid.length != 3 || grid[0] < 1 || grid[1] < 1 || grid[2] < 1 || grid[1] % m != 0
                    || grid[2] % m != 0) {
                throw new IllegalArgumentException("media " + media + " has grid " + java.util.Arrays.toString(grid)
                        + "; a grid is (t, h, w) >= 1 with h and w multiples of spatial_merge_size " + m);
            }
            int gh = grid[1] / m;
            int gw = grid[2] / m;
            int count = grid[0] * gh * gw;
            if (i + count > end) {
                throw new IllegalArgumentException("media " + media + " needs " + count + " placeholders from position "
                        + i + " but its document ends at " + end);
            }
            for (int q = 0; q < count; q++) {
                if (ids[i + q] != ids[i]) {
                    throw new IllegalArgumentException("media " + media + " needs " + count + " placeholders ("
                            + ids[i] + ") from position " + i + " but position " + (i + q) + " holds " + ids[i + q]);
                }
            }
            boolean marked = i > start && ids[i - 1] == tokens.visionStartTokenId();
            if (marked) {
                for (int q = 0; q < count; q++) {
                    set(out, i + q, next + q / (gh * gw), next + (q / gw) % gh, next + q % gw);
                }
                next += Math.max(grid[0], Math.max(gh, gw));
            } else {
                for (int q = 0; q < count; q++) {
                    set(out, i + q, next, next, next);
                    next++;
                }
            }
            i += count;
            media++;
        }
        return media;
    }

    private static void set(int[][] out, int i, int t, int h, int w) {
        out[0][i] = t;
        out[1][i] = h;
        out[2][i] = w;
    }
}
