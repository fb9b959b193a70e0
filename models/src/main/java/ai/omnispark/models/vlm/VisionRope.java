package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import java.util.List;

/**
 * The vision tower's 2-D rotary tables (Qwen2-VL's {@code VisionRotaryEmbedding}, θ 10000, over
 * head_dim / 2 dims): per patch, the first quarter of the head's dims rotate by the patch's row,
 * the second quarter by its column, and the second half repeats the first (rotate-half layout).
 * Patches are listed as {@link PixelPatches} lists them: per media, (t, h/m, w/m, m, m).
 */
public final class VisionRope {
    public static final double THETA = 10000.0;

    private VisionRope() {}

    /** Per patch of every media in order, its (row, column) in patches. */
    public static int[][] patchPositions(List<int[]> grids, int spatialMergeSize) {
        int m = spatialMergeSize;
        int n = 0;
        for (int[] g : grids) {
            if (g[1] % m != 0 || g[2] % m != 0) {
                throw new IllegalArgumentException("grid " + java.util.Arrays.toString(g)
                        + " is not a multiple of spatial_merge_size " + m);
            }
            n += g[0] * g[1] * g[2];
        }
        int[][] rc = new int[n][];
        int i = 0;
        for (int[] g : grids) {
            for (int t = 0; t < g[0]; t++) {
                for (int bh = 0; bh < g[1] / m; bh++) {
                    for (int bw = 0; bw < g[2] / m; bw++) {
                        for (int mh = 0; mh < m; mh++) {
                            for (int mw = 0; mw < m; mw++) {
                                rc[i++] = new int[] {bh * m + mh, bw * m + mw};
                            }
                        }
                    }
                }
            }
        }
        return rc;
    }

    static void checkHeadDim(int headDim) {
        if (headDim < 4 || headDim % 4 != 0) {
            throw new IllegalArgumentException("the vision head_dim (embed_dim / num_heads) must be a multiple of 4 "
                    + "for the 2-D rotary embedding, got " + headDim);
        }
    }

    /** cos, sin of shape [patches, headDim] for the grids' patches; headDim a multiple of 4. */
    public static NDList build(NDManager scope, List<int[]> grids, int spatialMergeSize, int headDim, DataType dtype) {
        checkHeadDim(headDim);
        int[][] rc = patchPositions(grids, spatialMergeSize);
        int quarter = headDim / 4;
        int half = headDim / 2;
        double[] invFreq = new double[quarter];
        for (int k = 0; k < quarter; k++) {
            invFreq[k] = 1.0 / Math.pow(THETA, (2.0 * k) / half);
        }
        double[] cos = new double[rc.length * headDim];
        double[] sin = new double[cos.length];
        for (int p = 0; p < rc.length; p++) {
            int base = p * headDim;
            for (int k = 0; k < half; k++) {
                double angle = rc[p][k < quarter ? 0 : 1] * invFreq[k % quarter];
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                cos[base + k] = c;
                cos[base + half + k] = c;
                sin[base + k] = s;
                sin[base + half + k] = s;
            }
        }
        Shape shape = new Shape(rc.length, headDim);
        return new NDList(Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype));
    }
}
