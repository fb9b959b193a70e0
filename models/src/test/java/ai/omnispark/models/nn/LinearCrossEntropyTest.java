package ai.omnispark.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The chunked linear cross-entropy against a float64 computation in plain Java and against the
 * materialised log-softmax path (today's head, differentiated by autograd): loss, gradient of the
 * hidden states and of the weight, with chunks that do not divide the token count and ignored
 * labels inside chunks, scaled by an incoming gradient that is not 1.
 */
class LinearCrossEntropyTest {
    private static final int TOKENS = 23;
    private static final int HIDDEN = 6;
    private static final int VOCAB = 17;
    /** Ignored positions, inside chunks and two in a row; the first and last tokens count. */
    private static final int[] IGNORED = {1, 5, 6, 13, 20};
    private static final double SEED_GRAD = 0.37;

    private static RankContext rank;
    private static double[][] h;
    private static double[][] w;
    private static int[] labels;
    private static boolean[] keep;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
        SplittableRandom r = new SplittableRandom(5);
        h = new double[TOKENS][HIDDEN];
        w = new double[VOCAB][HIDDEN];
        for (double[] row : h) {
            for (int j = 0; j < HIDDEN; j++) {
                row[j] = 2 * (r.nextDouble() - 0.5);
            }
        }
        for (double[] row : w) {
            for (int j = 0; j < HIDDEN; j++) {
                row[j] = 1.5 * (r.nextDouble() - 0.5);
            }
        }
        labels = new int[TOKENS];
        keep = new boolean[TOKENS];
        for (int i = 0; i < TOKENS; i++) {
            labels[i] = r.nextInt(VOCAB); // ignored positions hold a valid id too, as in a batch
            keep[i] = true;
        }
        for (int i : IGNORED) {
            keep[i] = false;
        }
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /** Loss, dL/dh and dL/dW of {@code g * sum_i keep_i CE(h_i W^T, label_i)}, in float64. */
    private static double[][][] reference() {
        double loss = 0;
        double[][] dh = new double[TOKENS][HIDDEN];
        double[][] dw = new double[VOCAB][HIDDEN];
        for (int i = 0; i < TOKENS; i++) {
            if (!keep[i]) {
                continue;
            }
            double[] logits = new double[VOCAB];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < VOCAB; v++) {
                for (int j = 0; j < HIDDEN; j++) {
                    logits[v] += h[i][j] * w[v][j];
                }
                max = Math.max(max, logits[v]);
            }
            double sum = 0;
            for (int v = 0; v < VOCAB; v++) {
                sum += Math.exp(logits[v] - max);
            }
            double lse = max + Math.log(sum);
            loss += lse - logits[labels[i]];
            for (int v = 0; v < VOCAB; v++) {
                double g = SEED_GRAD * (Math.exp(logits[v] - lse) - (v == labels[i] ? 1 : 0));
                for (int j = 0; j < HIDDEN; j++) {
                    dh[i][j] += g * w[v][j];
                    dw[v][j] += g * h[i][j];
                }
            }
        }
        return new double[][][] {{{loss}}, dh, dw};
    }

    private record Result(double loss, double[] dh, double[] dw) {}

    private static NDArray array(NDManager m, double[][] rows, DataType dtype) {
        double[] flat = new double[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        }
        return Ops.owned(m.create(flat, new Shape(rows.length, rows[0].length)), dtype);
    }

    /** Runs forward and backward (seeded with {@link #SEED_GRAD}) of the chunked or the materialised loss. */
    private static Result run(DataType dtype, int chunk, boolean materialised) {
        try (NDManager m = rank.manager().newSubManager()) {
            long[] ids = new long[TOKENS];
            double[] mask = new double[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                ids[i] = labels[i];
                mask[i] = keep[i] ? 1 : 0;
            }
            NDArray target = Ops.owned(m.create(ids), DataType.INT64);
            NDArray maskArray = Ops.owned(m.create(mask), dtype);
            boolean previous = Autograd.setGradMode(true);
            try {
                NDArray hidden = Autograd.leaf(array(m, h, dtype));
                NDArray weight = Autograd.leaf(array(m, w, dtype));
                NDArray loss = materialised
                        ? Ops.linear(hidden, weight, null).logSoftmax(-1).gather(target.reshape(-1, 1), 1)
                                .reshape(-1).mul(maskArray).sum().neg()
                        : LinearCrossEntropy.sum(m, hidden, weight, target, maskArray, chunk);
                Autograd.backward(loss, Ops.constant(loss, SEED_GRAD), false);
                return new Result(loss.toType(DataType.FLOAT64, false).getDouble(),
                        Autograd.gradientOrNull(hidden).toType(DataType.FLOAT64, false).toDoubleArray(),
                        Autograd.gradientOrNull(weight).toType(DataType.FLOAT64, false).toDoubleArray());
            } finally {
                Autograd.setGradMode(previous);
            }
        }
    }

    private static double[] flat(double[][] rows) {
        double[] f = new double[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, f, i * rows[0].length, rows[0].length);
        }
        return f;
    }

    /** Each element within {@code tol * (|want| + max |want|)}. */
    private static void assertClose(String what, double[] want, double[] got, double tol) {
        assertEquals(want.length, got.length, what + " size");
        double largest = 0;
        for (double x : want) {
            largest = Math.max(largest, Math.abs(x));
        }
        assertTrue(largest > 0, what + " reference is all zero");
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(got[i] - want[i]) <= tol * (Math.abs(want[i]) + largest),
                    what + "[" + i + "]: got " + got[i] + ", want " + want[i]);
        }
    }

    @ParameterizedTest(name = "{0} chunk={1}")
    @CsvSource({"FLOAT64,1", "FLOAT64,4", "FLOAT64,7", "FLOAT64,23", "FLOAT64,64",
        "FLOAT32,1", "FLOAT32,4", "FLOAT32,7", "FLOAT32,23", "FLOAT32,64"})
    void matchesFloat64ReferenceAndTheMaterialisedPath(DataType dtype, int chunk) {
        double tol = dtype == DataType.FLOAT64 ? 1e-12 : 1e-5;
        double[][][] ref = reference();
        Result got = run(dtype, chunk, false);
        assertEquals(ref[0][0][0], got.loss(), tol * ref[0][0][0], "loss vs float64 reference");
        assertClose("dL/dh vs float64 reference", flat(ref[1]), got.dh(), tol);
        assertClose("dL/dW vs float64 reference", flat(ref[2]), got.dw(), tol);
        Result today = run(dtype, chunk, true);
        assertEquals(today.loss(), got.loss(), tol * Math.abs(today.loss()), "loss vs materialised");
        assertClose("dL/dh vs materialised", today.dh(), got.dh(), tol);
        assertClose("dL/dW vs materialised", today.dw(), got.dw(), tol);
    }

    @Test
    void withoutRecordingOnlyTheValueIsComputed() {
        double want = reference()[0][0][0];
        try (NDManager m = rank.manager().newSubManager()) {
            long[] ids = new long[TOKENS];
            double[] mask = new double[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                ids[i] = labels[i];
                mask[i] = keep[i] ? 1 : 0;
            }
            boolean previous = Autograd.setGradMode(false);
            try {
                NDArray loss = LinearCrossEntropy.sum(m, array(m, h, DataType.FLOAT64), array(m, w, DataType.FLOAT64),
                        Ops.owned(m.create(ids), DataType.INT64), Ops.owned(m.create(mask), DataType.FLOAT64), 5);
                assertEquals(want, loss.getDouble(), 1e-12 * want);
            } finally {
                Autograd.setGradMode(previous);
            }
        }
    }

    @Test
    void autoChunkKeepsAChunksLogitsWithin256MiB() {
        // Qwen3's vocabulary in fp32: 256 MiB / (151936 * 4 bytes) = 441.7 tokens.
        assertEquals(441, LinearCrossEntropy.chunkTokens(0, 151936, 4));
        assertEquals(220, LinearCrossEntropy.chunkTokens(0, 151936, 8));
        assertEquals(7, LinearCrossEntropy.chunkTokens(7, 151936, 4));
        assertEquals(1, LinearCrossEntropy.chunkTokens(0, 1L << 30, 4), "at least one token per chunk");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LinearCrossEntropy.chunkTokens(-1, 100, 4));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
    }

    @Test
    void mismatchedShapesAreRefusedNamingThem() {
        try (NDManager m = rank.manager().newSubManager()) {
            NDArray hidden = m.zeros(new Shape(4, 3));
            NDArray weight = m.zeros(new Shape(5, 2));
            NDArray target = m.zeros(new Shape(4), DataType.INT64);
            NDArray mask = m.ones(new Shape(4));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LinearCrossEntropy.sum(m, hidden, weight, target, mask, 2));
            assertTrue(e.getMessage().contains("(4, 3)") && e.getMessage().contains("(5, 2)"), e.getMessage());
            IllegalArgumentException l = assertThrows(IllegalArgumentException.class,
                    () -> LinearCrossEntropy.sum(m, hidden, m.zeros(new Shape(5, 3)), m.zeros(new Shape(3),
                            DataType.INT64), mask, 2));
            assertTrue(l.getMessage().contains("labels"), l.getMessage());
        }
    }

    /**
     * A frozen weight (a constant to autograd, as the engine hands a frozen unit): without its
     * gradient computed, the loss and the hidden gradient are bit for bit those of the full path.
     */
    @ParameterizedTest(name = "{0} chunk={1}")
    @CsvSource({"FLOAT64,4", "FLOAT32,7", "FLOAT32,64"})
    void aFrozenWeightSkipsItsGradientAndChangesNothingElse(DataType dtype, int chunk) {
        Result full = run(dtype, chunk, false);
        try (NDManager m = rank.manager().newSubManager()) {
            long[] ids = new long[TOKENS];
            double[] mask = new double[TOKENS];
            for (int i = 0; i < TOKENS; i++) {
                ids[i] = labels[i];
                mask[i] = keep[i] ? 1 : 0;
            }
            boolean previous = Autograd.setGradMode(true);
            try {
                NDArray hidden = Autograd.leaf(array(m, h, dtype));
                NDArray weight = array(m, w, dtype);
                NDArray loss = LinearCrossEntropy.sum(m, hidden, weight, Ops.owned(m.create(ids), DataType.INT64),
                        Ops.owned(m.create(mask), dtype), chunk, false);
                Autograd.backward(loss, Ops.constant(loss, SEED_GRAD), false);
                assertEquals(full.loss(), loss.toType(DataType.FLOAT64, false).getDouble(), 0.0, "loss");
                org.junit.jupiter.api.Assertions.assertArrayEquals(full.dh(),
                        Autograd.gradientOrNull(hidden).toType(DataType.FLOAT64, false).toDoubleArray(), 0.0, "dL/dh");
            } finally {
                Autograd.setGradMode(previous);
            }
        }
    }
}
