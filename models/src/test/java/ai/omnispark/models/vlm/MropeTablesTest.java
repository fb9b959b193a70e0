package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import org.junit.jupiter.api.Test;

class MropeTablesTest {
    private static final int HEAD_DIM = 16;
    private static final double THETA = 1e6;

    /** With t = h = w the tables are the 1-D decoder's, bit for bit, for any split. */
    @Test
    void equalPositionRowsGiveTokenBatchTables() {
        int rows = 2;
        int seqLen = 7;
        int[] flat = {0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 0, 1, 2, 3};
        int[][][] positions = new int[rows][3][seqLen];
        for (int b = 0; b < rows; b++) {
            for (int a = 0; a < 3; a++) {
                System.arraycopy(flat, b * seqLen, positions[b][a], 0, seqLen);
            }
        }
        int[] ids = new int[rows * seqLen];
        int[] labels = new int[rows * seqLen];
        int[] docs = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
        try (NDManager scope = NDManager.newBaseManager()) {
            Batch reference = TokenBatch.build(scope, 10, HEAD_DIM, THETA, DataType.FLOAT64, rows, seqLen, ids,
                    labels, flat, docs);
            for (int[] section : new int[][] {{2, 3, 3}, {8, 0, 0}, {0, 4, 4}}) {
                NDList tables = MropeTables.build(scope, positions, HEAD_DIM, THETA, section, DataType.FLOAT64);
                assertEquals(reference.get(TokenBatch.COS).getShape(), tables.get(0).getShape());
                assertEquals(new Shape(rows, 1, seqLen, HEAD_DIM), tables.get(0).getShape());
                assertArrayEquals(reference.get(TokenBatch.COS).toDoubleArray(), tables.get(0).toDoubleArray(), 0.0);
                assertArrayEquals(reference.get(TokenBatch.SIN).toDoubleArray(), tables.get(1).toDoubleArray(), 0.0);
            }
        }
    }

    /** Distinct rows: frequency i rotates by the row its section names, the same in both halves. */
    @Test
    void eachSectionReadsItsOwnPositionRow() {
        int hd = 8;
        int[] section = {1, 1, 2};
        int[][][] positions = {{{3, 5}, {7, 11}, {13, 17}}};
        // frequency i: theta^(-2i/8); rows per frequency: t, h, w, w
        int[][] rowOf = {{0}, {1}, {2}, {2}};
        double[] expectedCos = new double[2 * hd];
        double[] expectedSin = new double[2 * hd];
        for (int p = 0; p < 2; p++) {
            for (int i = 0; i < 4; i++) {
                double angle = positions[0][rowOf[i][0]][p] * Math.pow(THETA, -2.0 * i / hd);
                expectedCos[p * hd + i] = Math.cos(angle);
                expectedCos[p * hd + 4 + i] = Math.cos(angle);
                expectedSin[p * hd + i] = Math.sin(angle);
                expectedSin[p * hd + 4 + i] = Math.sin(angle);
            }
        }
        try (NDManager scope = NDManager.newBaseManager()) {
            NDList tables = MropeTables.build(scope, positions, hd, THETA, section, DataType.FLOAT64);
            assertArrayEquals(expectedCos, tables.get(0).toDoubleArray(), 1e-15);
            assertArrayEquals(expectedSin, tables.get(1).toDoubleArray(), 1e-15);
            // position 0's frequency 0 is t = 3, frequency 1 is h = 7: a check independent of the loop above
            assertEquals(Math.cos(3.0), tables.get(0).toDoubleArray()[0], 1e-15);
            assertEquals(Math.cos(7.0 * Math.pow(THETA, -0.25)), tables.get(0).toDoubleArray()[1], 1e-15);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> MropeTables.build(scope, positions, hd, THETA, new int[] {1, 1, 1}, DataType.FLOAT64));
            assertEquals("rope_scaling.mrope_section [1, 1, 1] sums to 3; it must sum to head_dim / 2 = 4",
                    e.getMessage());
        }
    }
}
