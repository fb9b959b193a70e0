package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The vision tower's 2-D rotary tables for a 2x2-merge grid against a table written by hand. */
class VisionRopeTest {
    @Test
    void twoByFourGridInMergeWindowOrder() {
        // grid (t=2, h=2, w=4), m = 2: per frame, window (0,0) then window (0,1), each row-major.
        int[][] expectedRc = {
            {0, 0}, {0, 1}, {1, 0}, {1, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3},
            {0, 0}, {0, 1}, {1, 0}, {1, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}};
        int[][] rc = VisionRope.patchPositions(List.of(new int[] {2, 2, 4}), 2);
        assertEquals(expectedRc.length, rc.length);
        for (int i = 0; i < rc.length; i++) {
            assertArrayEquals(expectedRc[i], rc[i], "patch " + i);
        }
        // head_dim 8: rotary dim 4, inverse frequencies 10000^(-0/4) = 1 and 10000^(-2/4) = 0.01;
        // angles (row, row/100, col, col/100), then repeated.
        try (NDManager scope = NDManager.newBaseManager()) {
            NDList t = VisionRope.build(scope, List.of(new int[] {2, 2, 4}), 2, 8, DataType.FLOAT64);
            assertEquals(new Shape(16, 8), t.get(0).getShape());
            double[] cos = t.get(0).toDoubleArray();
            double[] sin = t.get(1).toDoubleArray();
            for (int p = 0; p < 16; p++) {
                double r = expectedRc[p][0];
                double c = expectedRc[p][1];
                double[] angles = {r, r * 0.01, c, c * 0.01, r, r * 0.01, c, c * 0.01};
                for (int d = 0; d < 8; d++) {
                    assertEquals(Math.cos(angles[d]), cos[p * 8 + d], 1e-15, "cos patch " + p + " dim " + d);
                    assertEquals(Math.sin(angles[d]), sin[p * 8 + d], 1e-15, "sin patch " + p + " dim " + d);
                }
            }
            // patch 6 is (row 1, column 2): its dim 2 rotates by the column, dim 0 by the row
            assertEquals(Math.cos(2.0), cos[6 * 8 + 2], 1e-15);
            assertEquals(Math.cos(1.0), cos[6 * 8], 1e-15);
        }
    }
}
