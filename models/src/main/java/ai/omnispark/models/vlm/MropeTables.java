package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;

/**
 * The decoder's rotary tables from 3-D (t, h, w) positions (multimodal RoPE): the same shape and
 * layout as {@link ai.omnispark.models.nn.TokenBatch}'s {@code rope_cos}/{@code rope_sin}, so the
 * attention code is unchanged. Frequency i of the head_dim/2 takes its angle from the position row
 * its section of {@code mrope_section} names (t for the first section, h for the second, w for
 * the third); both halves of the head (rotate-half layout) use the same frequency, which is
 * transformers' {@code mrope_section * 2} split over the doubled table.
 */
public final class MropeTables {
    private MropeTables() {}

    /**
     * @param positions {@code [B][3][S]} from {@link MropePositions#of}
     * @param mropeSection frequencies per position row, summing to headDim / 2 (e.g. 16, 24, 24 for 128)
     * @return cos, sin of shape [B, 1, S, headDim], libtorch-owned
     */
    public static NDList build(NDManager scope, int[][][] positions, int headDim, double theta, int[] mropeSection,
            DataType dtype) {
        if (headDim < 2 || headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even and >= 2, got " + headDim);
        }
        int half = headDim / 2;
        int[] rowOf = sectionRows(mropeSection, half);
        if (positions.length == 0) {
            throw new IllegalArgumentException("positions hold no rows");
        }
        int rows = positions.length;
        int seqLen = positions[0].length == 3 ? positions[0][0].length : -1;
        for (int b = 0; b < rows; b++) {
            if (positions[b].length != 3 || positions[b][0].length != seqLen || positions[b][1].length != seqLen
                    || positions[b][2].length != seqLen) {
                throw new IllegalArgumentException("positions of row " + b + " are not [3][" + seqLen + "]");
            }
        }
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
        double[] cos = new double[rows * seqLen * headDim];
        double[] sin = new double[cos.length];
        for (int b = 0; b < rows; b++) {
            for (int p = 0; p < seqLen; p++) {
                int base = (b * seqLen + p) * headDim;
                for (int i = 0; i < half; i++) {
                    double angle = positions[b][rowOf[i]][p] * invFreq[i];
                    double c = Math.cos(angle);
                    double s = Math.sin(angle);
                    cos[base + i] = c;
                    cos[base + half + i] = c;
                    sin[base + i] = s;
                    sin[base + half + i] = s;
                }
            }
        }
        Shape shape = new Shape(rows, 1, seqLen, headDim);
        return new NDList(Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype));
    }

    /** Per frequency, the position row (0 = t, 1 = h, 2 = w) it rotates by; checks the section. */
    static int[] sectionRows(int[] mropeSection, int half) {
        if (mropeSection == null || mropeSection.length != 3) {
            throw new IllegalArgumentException("rope_scaling.mrope_section must have 3 entries (t, h, w), got "
                    + java.util.Arrays.toString(mropeSection));
        }
        int sum = 0;
        for (int v : mropeSection) {
            if (v < 0) {
                throw new IllegalArgumentException("rope_scaling.mrope_section entries must be >= 0, got "
                        + java.util.Arrays.toString(mropeSection));
            }
            sum += v;
        }
        if (sum != half) {
            throw new IllegalArgumentException("rope_scaling.mrope_section " + java.util.Arrays.toString(mropeSection)
                    + " sums to " + sum + "; it must sum to head_dim / 2 = " + half);
        }
        int[] rowOf = new int[half];
        int i = 0;
        for (int row = 0; row < 3; row++) {
            for (int k = 0; k < mropeSection[row]; k++) {
                rowOf[i++] = row;
            }
        }
        return rowOf;
    }
}
