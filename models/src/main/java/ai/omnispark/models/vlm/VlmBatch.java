package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import java.util.ArrayList;
import java.util.List;

/**
 * The batch of the vision-language family: {@link TokenBatch}'s token tensors with M-RoPE tables
 * under its {@code rope_cos}/{@code rope_sin} keys, plus the media of every row in the layout of
 * Hugging Face's Qwen2-VL processor and what the vision tower and the embedding scatter need.
 *
 * <p>Media are listed row by row, and within a row in the order of their placeholder runs. The
 * media tensors are present (with zero rows) when the batch holds no media.
 */
public final class VlmBatch {
    /** float [N_patches, C·tp·p·p]: every media's patches ({@link PixelPatches}), media after media. */
    public static final String PIXEL_VALUES = "pixel_values";
    /** int64 [n_media, 3]: (t, h, w) in patches of each media. */
    public static final String GRID_THW = "grid_thw";
    /** [N_patches, vision head_dim]: the vision tower's 2-D rotary tables ({@link VisionRope}). */
    public static final String VISION_ROPE_COS = "vision_rope_cos";
    public static final String VISION_ROPE_SIN = "vision_rope_sin";
    /**
     * int64 [n_frame_groups]: patches (h·w) of each temporal group of each media, in order; vision
     * attention stays inside one group.
     */
    public static final String VISION_SEGMENTS = "vision_segments";
    /**
     * int64 [N_merged]: the flat index (row · S + position) of every placeholder token, in media
     * order, where the merger's output rows go.
     */
    public static final String MEDIA_TOKEN_INDEX = "media_token_index";

    private VlmBatch() {}

    /**
     * @param samples packed rows of equal length, {@code tokens_with_media} (or {@code tokens}: no media)
     * @param headDim the language model's head dim; {@code mropeSection} sums to its half
     * @param visionHeadDim the vision tower's head dim (embed_dim / num_heads)
     */
    public static Batch build(NDManager scope, List<Sample> samples, DataType dtype, VlmTokens tokens,
            VisionGeometry geometry, int vocabSize, int headDim, double ropeTheta, int[] mropeSection,
            int visionHeadDim) {
        int[][] columns = TokenBatch.columns(samples);
        int rows = samples.size();
        int seqLen = samples.get(0).length();
        int[] ids = columns[0];
        int[] docIds = columns[3];
        int m = geometry.spatialMergeSize();
        int[][][] positions = new int[rows][][];
        List<Media> media = new ArrayList<>();
        List<Long> tokenIndex = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            Sample row = samples.get(r);
            List<Media> rowMedia = media(row, r, geometry);
            List<int[]> grids = new ArrayList<>(rowMedia.size());
            rowMedia.forEach(x -> grids.add(x.grid));
            int[] rowIds = java.util.Arrays.copyOfRange(ids, r * seqLen, (r + 1) * seqLen);
            int[] rowDocs = java.util.Arrays.copyOfRange(docIds, r * seqLen, (r + 1) * seqLen);
            positions[r] = MropePositions.of(rowIds, rowDocs, grids, tokens, m);
            // MropePositions checked that the placeholders are exactly the media's runs, in order.
            int k = 0;
            int left = 0;
            for (int i = 0; i < seqLen; i++) {
                if (!tokens.isPlaceholder(rowIds[i])) {
                    continue;
                }
                if (left == 0) {
                    Media x = rowMedia.get(k++);
                    left = x.merged(m);
                    if (rowDocs[i] != x.docId) {
                        throw new IllegalArgumentException("row " + r + ": media " + (k - 1) + " says it belongs to "
                                + "document " + x.docId + " (media_doc_ids) but its placeholders start at position "
                                + i + " in document " + rowDocs[i]);
                    }
                }
                tokenIndex.add((long) r * seqLen + i);
                left--;
            }
            media.addAll(rowMedia);
        }
        Batch batch = TokenBatch.tokens(scope, vocabSize, dtype, rows, seqLen, ids, columns[1], docIds);
        NDList rope = MropeTables.build(scope, positions, headDim, ropeTheta, mropeSection, dtype);
        batch.put(TokenBatch.COS, rope.get(0));
        batch.put(TokenBatch.SIN, rope.get(1));
        addMedia(batch, scope, dtype, geometry, visionHeadDim, media, tokenIndex);
        return batch;
    }

    /**
     * One row whose images come as Hugging Face's Qwen2-VL image processor returns them:
     * {@code pixelValues} [N, C·tp·p·p] row-major (normalised, in merge-window order) and each
     * image's (t, h, w) in patches, in the order of the row's placeholder runs; the rest as
     * {@link #build} makes it for one document without labels.
     */
    public static Batch fromPatches(NDManager scope, int[] ids, float[] pixelValues, List<int[]> grids, DataType dtype,
            VlmTokens tokens, VisionGeometry geometry, int vocabSize, int headDim, double ropeTheta,
            int[] mropeSection, int visionHeadDim) {
        int m = geometry.spatialMergeSize();
        int rowSize = geometry.patchElements();
        long patches = 0;
        for (int[] grid : grids) {
            if (grid.length != 3 || grid[0] < 1 || grid[1] % m != 0 || grid[2] % m != 0 || grid[1] < m || grid[2] < m) {
                throw new IllegalArgumentException("image_grid_thw " + java.util.Arrays.toString(grid)
                        + " is not (t >= 1, h, w) with h and w positive multiples of spatial_merge_size " + m);
            }
            patches += (long) grid[0] * grid[1] * grid[2];
        }
        if (pixelValues.length != patches * rowSize) {
            throw new IllegalArgumentException("pixel_values holds " + pixelValues.length + " floats but image_grid_thw "
                    + "names " + patches + " patches of " + rowSize + " (C·tp·p·p) floats");
        }
        int[] docs = new int[ids.length];
        int[][][] positions = {MropePositions.of(ids, docs, grids, tokens, m)};
        long[] tokenIndex = java.util.stream.IntStream.range(0, ids.length)
                .filter(i -> tokens.isPlaceholder(ids[i])).asLongStream().toArray();
        int[] labels = new int[ids.length];
        java.util.Arrays.fill(labels, Sample.IGNORE);
        Batch batch = TokenBatch.tokens(scope, vocabSize, dtype, 1, ids.length, ids, labels, docs);
        NDList rope = MropeTables.build(scope, positions, headDim, ropeTheta, mropeSection, dtype);
        batch.put(TokenBatch.COS, rope.get(0));
        batch.put(TokenBatch.SIN, rope.get(1));
        putMedia(batch, scope, dtype, geometry, visionHeadDim, pixelValues, patches, grids, tokenIndex);
        return batch;
    }

    private static void addMedia(Batch batch, NDManager scope, DataType dtype, VisionGeometry g, int visionHeadDim,
            List<Media> media, List<Long> tokenIndex) {
        long patches = 0;
        for (Media x : media) {
            patches += x.patches();
        }
        int rowSize = g.patchElements();
        if (patches * rowSize > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the micro-batch's " + patches + " patches of " + rowSize
                    + " floats do not fit one array; use fewer or smaller media per micro-batch");
        }
        float[] pixels = new float[(int) patches * rowSize];
        List<int[]> grids = new ArrayList<>(media.size());
        int offset = 0;
        for (Media x : media) {
            offset += rowSize * PixelPatches.write(x.pixels, x.frames, x.height, x.width, x.channels, g, pixels,
                    offset);
            grids.add(x.grid);
        }
        long[] index = tokenIndex.stream().mapToLong(Long::longValue).toArray();
        putMedia(batch, scope, dtype, g, visionHeadDim, pixels, patches, grids, index);
    }

    /** The media tensors of {@code patches} rows of {@code pixels}, media of {@code grids} in order. */
    private static void putMedia(Batch batch, NDManager scope, DataType dtype, VisionGeometry g, int visionHeadDim,
            float[] pixels, long patches, List<int[]> grids, long[] index) {
        int groups = 0;
        for (int[] grid : grids) {
            groups += grid[0];
        }
        long[] grid = new long[grids.size() * 3];
        long[] segments = new long[groups];
        int s = 0;
        for (int k = 0; k < grids.size(); k++) {
            int[] x = grids.get(k);
            for (int d = 0; d < 3; d++) {
                grid[k * 3 + d] = x[d];
            }
            for (int t = 0; t < x[0]; t++) {
                segments[s++] = (long) x[1] * x[2];
            }
        }
        batch.put(PIXEL_VALUES, Ops.owned(scope.create(pixels, new Shape(patches, g.patchElements())), dtype));
        batch.put(GRID_THW, Ops.owned(scope.create(grid, new Shape(grids.size(), 3)), DataType.INT64));
        batch.put(VISION_SEGMENTS, Ops.owned(scope.create(segments, new Shape(groups)), DataType.INT64));
        batch.put(MEDIA_TOKEN_INDEX, Ops.owned(scope.create(index, new Shape(index.length)), DataType.INT64));
        NDList rope = VisionRope.build(scope, grids, g.spatialMergeSize(), visionHeadDim, dtype);
        batch.put(VISION_ROPE_COS, rope.get(0));
        batch.put(VISION_ROPE_SIN, rope.get(1));
    }

    /** The media of one row as the shard stores them; none for a text-only row. */
    private static List<Media> media(Sample row, int r, VisionGeometry g) {
        if (!row.has(Sample.PIXEL_VALUES)) {
            return List.of();
        }
        List<byte[]> pixels = row.blobs(Sample.PIXEL_VALUES);
        int[][] shapes = row.intRows(Sample.MEDIA_SHAPES);
        int[] docs = row.ints(Sample.MEDIA_DOC_IDS);
        if (shapes.length != pixels.size() || docs.length != pixels.size()) {
            throw new IllegalArgumentException("row " + r + " has " + pixels.size() + " pixel_values but "
                    + shapes.length + " media_shapes and " + docs.length + " media_doc_ids");
        }
        List<Media> out = new ArrayList<>(pixels.size());
        for (int k = 0; k < pixels.size(); k++) {
            int[] shape = shapes[k];
            if (shape.length != 4) {
                throw new IllegalArgumentException("row " + r + ": media_shapes[" + k + "] is "
                        + java.util.Arrays.toString(shape) + ", expected (T, H, W, C)");
            }
            out.add(new Media(pixels.get(k), shape[0], shape[1], shape[2], shape[3], docs[k],
                    PixelPatches.grid(shape[0], shape[1], shape[2], g)));
        }
        return out;
    }

    private record Media(byte[] pixels, int frames, int height, int width, int channels, int docId, int[] grid) {
        long patches() {
            return (long) grid[0] * grid[1] * grid[2];
        }

        int merged(int m) {
            return grid[0] * (grid[1] / m) * (grid[2] / m);
        }
    }
}
