package ai.omnispark.models.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.RankRandom;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LoRA's forward against a plain-Java float64 reference, its gradients of A and B against central
 * finite differences in float64 through a frozen base, and the merged weight against the unmerged
 * forward.
 */
class LoraAdaptersTest {
    private static final int ROWS = 2;
    private static final int SEQ = 3;
    private static final int IN = 5;
    private static final int OUT = 4;
    private static final int RANK = 2;
    /** alpha / rank = 3 / 2: a scale that is not 1, so a dropped or doubled factor shows. */
    private static final LoraConfig CONFIG = new LoraConfig(RANK, 3.0, 0.4, List.of("q_proj"));

    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    private static double[] random(SplittableRandom r, int n, double std) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * std;
        }
        return v;
    }

    private static NDArray tensor(NDManager scope, double[] values, DataType dtype, long... shape) {
        return Ops.owned(scope.create(values, new Shape(shape)), dtype);
    }

    /** y[t][o] = sum_i x W[o][i] + b[o] + scale sum_r B[o][r] sum_i A[r][i] x[t][i] m[t][i], by loops. */
    private static double[] reference(double[] x, double[] w, double[] b, double[] a, double[] bm, double scale,
            double[] mask) {
        int tokens = x.length / IN;
        double[] y = new double[tokens * OUT];
        for (int t = 0; t < tokens; t++) {
            double[] ax = new double[RANK];
            for (int r = 0; r < RANK; r++) {
                for (int i = 0; i < IN; i++) {
                    ax[r] += a[r * IN + i] * x[t * IN + i] * (mask == null ? 1 : mask[t * IN + i]);
                }
            }
            for (int o = 0; o < OUT; o++) {
                double s = b[o];
                for (int i = 0; i < IN; i++) {
                    s += x[t * IN + i] * w[o * IN + i];
                }
                double u = 0;
                for (int r = 0; r < RANK; r++) {
                    u += bm[o * RANK + r] * ax[r];
                }
                y[t * OUT + o] = s + scale * u;
            }
        }
        return y;
    }

    /** The inputs of one check: x, base W and b, A, B, the loss weights R, and a dropout mask. */
    private record Case(double[] x, double[] w, double[] b, double[] a, double[] bm, double[] weights, double[] mask) {
        static Case draw(long seed, boolean dropout) {
            SplittableRandom r = new SplittableRandom(seed);
            double[] mask = null;
            if (dropout) {
                try (NDManager scope = rank.manager().newSubManager()) {
                    mask = LoraAdapters.dropoutMask(scope, new Shape(ROWS, SEQ, IN), CONFIG.dropout(),
                            DataType.FLOAT64, new RankRandom(seed, 0)).toDoubleArray();
                }
            }
            return new Case(random(r, ROWS * SEQ * IN, 1), random(r, OUT * IN, 0.5), random(r, OUT, 0.5),
                    random(r, RANK * IN, 0.5), random(r, OUT * RANK, 0.5), random(r, ROWS * SEQ * OUT, 1), mask);
        }
    }

    /** sum(R * y^2): not linear in y, so second-order terms of A and B reach the check. */
    private static NDArray loss(NDManager scope, Case c, NDArray a, NDArray bm) {
        NDArray y = LoraAdapters.linear(tensor(scope, c.x, DataType.FLOAT64, ROWS, SEQ, IN),
                tensor(scope, c.w, DataType.FLOAT64, OUT, IN), tensor(scope, c.b, DataType.FLOAT64, OUT), a, bm,
                CONFIG.scale(), c.mask == null ? null : tensor(scope, c.mask, DataType.FLOAT64, ROWS, SEQ, IN));
        return y.square().mul(tensor(scope, c.weights, DataType.FLOAT64, ROWS, SEQ, OUT)).sum();
    }

    private static double lossValue(Case c, double[] a, double[] bm) {
        try (NDManager scope = rank.manager().newSubManager()) {
            return loss(scope, c, tensor(scope, a, DataType.FLOAT64, RANK, IN),
                    tensor(scope, bm, DataType.FLOAT64, OUT, RANK)).getDouble();
        }
    }

    @ParameterizedTest(name = "dropout={0}")
    @ValueSource(booleans = {false, true})
    void forwardMatchesPlainJavaInFloat64(boolean dropout) {
        Case c = Case.draw(11, dropout);
        if (dropout) {
            int zeros = 0;
            for (double m : c.mask) {
                zeros += m == 0 ? 1 : 0;
            }
            assertTrue(zeros > 0 && zeros < c.mask.length, "the mask drops " + zeros + " of " + c.mask.length);
        }
        try (NDManager scope = rank.manager().newSubManager()) {
            double[] got = LoraAdapters.linear(tensor(scope, c.x, DataType.FLOAT64, ROWS, SEQ, IN),
                    tensor(scope, c.w, DataType.FLOAT64, OUT, IN), tensor(scope, c.b, DataType.FLOAT64, OUT),
                    tensor(scope, c.a, DataType.FLOAT64, RANK, IN), tensor(scope, c.bm, DataType.FLOAT64, OUT, RANK),
                    CONFIG.scale(), c.mask == null ? null : tensor(scope, c.mask, DataType.FLOAT64, ROWS, SEQ, IN))
                    .toDoubleArray();
            double[] want = reference(c.x, c.w, c.b, c.a, c.bm, CONFIG.scale(), c.mask);
            assertArrayEquals(want, got, 1e-12);
        }
    }

    /**
     * Every element of A and B: |finite difference - autograd| <= 2e-9 + 2e-7 |finite difference|
     * (h = 1e-5 central differences of a quartic in float64 err by ~1e-10 here). The base W, b and
     * the input x are plain tensors: frozen, autograd must leave them without a gradient.
     */
    @ParameterizedTest(name = "dropout={0}")
    @ValueSource(booleans = {false, true})
    void gradientsOfAAndBMatchFiniteDifferencesThroughAFrozenBase(boolean dropout) {
        Case c = Case.draw(5, dropout);
        double[] gradA;
        double[] gradB;
        boolean previous = Autograd.setGradMode(true);
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray a = Autograd.leaf(tensor(scope, c.a, DataType.FLOAT64, RANK, IN));
            NDArray bm = Autograd.leaf(tensor(scope, c.bm, DataType.FLOAT64, OUT, RANK));
            NDArray w = tensor(scope, c.w, DataType.FLOAT64, OUT, IN);
            NDArray y = LoraAdapters.linear(tensor(scope, c.x, DataType.FLOAT64, ROWS, SEQ, IN), w,
                    tensor(scope, c.b, DataType.FLOAT64, OUT), a, bm, CONFIG.scale(),
                    c.mask == null ? null : tensor(scope, c.mask, DataType.FLOAT64, ROWS, SEQ, IN));
            NDArray l = y.square().mul(tensor(scope, c.weights, DataType.FLOAT64, ROWS, SEQ, OUT)).sum();
            Autograd.backward(l, Ops.constant(l, 1.0), false);
            gradA = Autograd.gradientOrNull(a).toDoubleArray();
            gradB = Autograd.gradientOrNull(bm).toDoubleArray();
            assertFalse(w.hasGradient(), "the frozen base weight got a gradient");
        } finally {
            Autograd.setGradMode(previous);
        }
        double h = 1e-5;
        double worst = 0;
        for (boolean ofA : new boolean[] {true, false}) {
            double[] values = (ofA ? c.a : c.bm).clone();
            double[] analytic = ofA ? gradA : gradB;
            double largest = 0;
            for (int i = 0; i < values.length; i++) {
                double original = values[i];
                values[i] = original + h;
                double plus = ofA ? lossValue(c, values, c.bm) : lossValue(c, c.a, values);
                values[i] = original - h;
                double minus = ofA ? lossValue(c, values, c.bm) : lossValue(c, c.a, values);
                values[i] = original;
                double fd = (plus - minus) / (2 * h);
                double bound = 2e-9 + 2e-7 * Math.abs(fd);
                worst = Math.max(worst, Math.abs(fd - analytic[i]) / bound);
                assertTrue(Math.abs(fd - analytic[i]) <= bound,
                        (ofA ? "A[" : "B[") + i + "]: autograd " + analytic[i] + ", finite difference " + fd);
                largest = Math.max(largest, Math.abs(fd));
            }
            assertTrue(largest > 0, (ofA ? "A" : "B") + " has an all-zero gradient");
        }
        System.out.printf("LoRA gradient check dropout=%s: worst element error %.3f of its bound%n", dropout, worst);
    }

    /** A fresh adapter (B = 0): the output is the base's, bit for bit; only B gets a gradient. */
    @Test
    void freshAdapterLeavesTheBaseExactlyAndOnlyBLearnsFirst() {
        List<ParamSpec> specs = LoraAdapters.specs(CONFIG, "model.layers.0.self_attn.q_proj", IN, OUT);
        UnitLayout unit = new UnitLayout(LoraAdapters.unitOf("block.0"), specs);
        float[] flat = new float[(int) unit.numel()];
        unit.initialValues(3, 7, (offset, values, length) -> System.arraycopy(values, 0, flat, (int) offset, length));
        SplittableRandom r = new SplittableRandom(9);
        boolean previous = Autograd.setGradMode(true);
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray params = Autograd.leaf(scope.create(flat));
            var views = unit.views(params);
            NDArray a = views.get(LoraAdapters.loraA("model.layers.0.self_attn.q_proj"));
            NDArray bm = views.get(LoraAdapters.loraB("model.layers.0.self_attn.q_proj"));
            NDArray x = tensor(scope, random(r, ROWS * SEQ * IN, 1), DataType.FLOAT32, ROWS, SEQ, IN);
            NDArray w = tensor(scope, random(r, OUT * IN, 0.5), DataType.FLOAT32, OUT, IN);
            NDArray b = tensor(scope, random(r, OUT, 0.5), DataType.FLOAT32, OUT);
            NDArray mask = LoraAdapters.dropoutMask(scope, x.getShape(), 0.4, DataType.FLOAT32, new RankRandom(1, 0));
            NDArray y = LoraAdapters.linear(x, w, b, a, bm, CONFIG.scale(), mask);
            assertArrayEquals(Ops.linear(x, w, b).toFloatArray(), y.toFloatArray(), 0f);
            Autograd.backward(y.sum(), Ops.constant(y, 1.0), false);
            float[] grad = Autograd.gradientOrNull(params).toFloatArray();
            long aEnd = RANK * IN;
            for (int i = 0; i < aEnd; i++) {
                assertEquals(0f, grad[i], 0f, "A[" + i + "] got a gradient while B is zero");
            }
            double bNorm = 0;
            for (int i = (int) aEnd; i < grad.length; i++) {
                bNorm += grad[i] * (double) grad[i];
            }
            assertTrue(bNorm > 0, "B got no gradient");
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    /** x (W + scale B A)^T + b through merged() equals the unmerged forward within 1e-6 in float32. */
    @Test
    void mergedWeightGivesTheUnmergedOutput() {
        SplittableRandom r = new SplittableRandom(17);
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray x = tensor(scope, random(r, ROWS * SEQ * IN, 1), DataType.FLOAT32, ROWS, SEQ, IN);
            NDArray w = tensor(scope, random(r, OUT * IN, 0.5), DataType.FLOAT32, OUT, IN);
            NDArray b = tensor(scope, random(r, OUT, 0.5), DataType.FLOAT32, OUT);
            NDArray a = tensor(scope, random(r, RANK * IN, 0.5), DataType.FLOAT32, RANK, IN);
            NDArray bm = tensor(scope, random(r, OUT * RANK, 0.5), DataType.FLOAT32, OUT, RANK);
            float[] unmerged = LoraAdapters.linear(x, w, b, a, bm, CONFIG.scale(), null).toFloatArray();
            float[] viaMerged = Ops.linear(x, LoraAdapters.merged(w, a, bm, CONFIG.scale()), b).toFloatArray();
            float[] base = Ops.linear(x, w, b).toFloatArray();
            double moved = 0;
            for (int i = 0; i < unmerged.length; i++) {
                assertEquals(unmerged[i], viaMerged[i], 1e-6 * Math.max(1, Math.abs(unmerged[i])), "output " + i);
                moved = Math.max(moved, Math.abs(unmerged[i] - base[i]));
            }
            assertTrue(moved > 0.1, "the adapter barely changes the output (" + moved + "): the check is too weak");
            // The merged weight itself against W + scale * B A by loops, in float64.
            float[] wd = w.toFloatArray();
            float[] ad = a.toFloatArray();
            float[] bd = bm.toFloatArray();
            float[] got = LoraAdapters.merged(w, a, bm, CONFIG.scale()).toFloatArray();
            for (int o = 0; o < OUT; o++) {
                for (int i = 0; i < IN; i++) {
                    double s = 0;
                    for (int k = 0; k < RANK; k++) {
                        s += bd[o * RANK + k] * (double) ad[k * IN + i];
                    }
                    assertEquals(wd[o * IN + i] + CONFIG.scale() * s, got[o * IN + i], 1e-6, "W'[" + o + "][" + i + "]");
                }
            }
        }
    }

    @Test
    void specsArePeftsShapesAndInits() {
        List<ParamSpec> specs = LoraAdapters.specs(CONFIG, "mlp.down_proj", 12, 7);
        assertEquals(2, specs.size());
        ParamSpec a = specs.get(0);
        ParamSpec b = specs.get(1);
        assertEquals("mlp.down_proj.lora_A.weight", a.name());
        assertEquals(new Shape(RANK, 12), a.shape());
        assertEquals(new Init.KaimingUniform(Math.sqrt(5), 12), a.init());
        assertEquals(1 / Math.sqrt(12), ((Init.KaimingUniform) a.init()).bound(), 1e-15);
        assertEquals("mlp.down_proj.lora_B.weight", b.name());
        assertEquals(new Shape(7, RANK), b.shape());
        assertEquals(Init.zeros(), b.init());
        assertTrue(a.trainable() && b.trainable() && a.decay() && b.decay());
        assertEquals("layers.3.lora", LoraAdapters.unitOf("layers.3"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraAdapters.specs(CONFIG, "m", 0, 3))
                .getMessage().contains("linear m has 0 inputs"));
    }

    @Test
    void dropoutMaskIsDeterministicFromTheRankGenerator() {
        double p = 0.25;
        Shape shape = new Shape(4, 8, 16);
        try (NDManager scope = rank.manager().newSubManager()) {
            RankRandom random = new RankRandom(123, 2);
            float[] mask = LoraAdapters.dropoutMask(scope, shape, p, DataType.FLOAT32, random).toFloatArray();
            // The same convention as the attention-dropout masks: one draw per element in order.
            RankRandom replay = new RankRandom(123, 2);
            int zeros = 0;
            for (int i = 0; i < mask.length; i++) {
                float want = replay.nextDouble() < p ? 0f : (float) (1 / (1 - p));
                assertEquals(want, mask[i], 0f, "element " + i);
                zeros += mask[i] == 0 ? 1 : 0;
            }
            assertEquals(replay.state(), random.state(), "the mask drew other than one number per element");
            // 512 draws at p = 0.25: 128 expected zeros, sd ~ 9.8.
            assertTrue(Math.abs(zeros - 128) < 50, zeros + " zeros of 512");
            assertArrayEquals(mask, LoraAdapters.dropoutMask(scope, shape, p, DataType.FLOAT32,
                    new RankRandom(123, 2)).toFloatArray(), 0f);
            long before = random.state();
            assertNull(LoraAdapters.dropoutMask(scope, shape, 0, DataType.FLOAT32, random));
            assertEquals(before, random.state(), "p = 0 drew numbers");
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> LoraAdapters.dropoutMask(scope, shape, 1, DataType.FLOAT32, random)).getMessage()
                    .contains("[0, 1)"));
        }
    }

    @Test
    void badShapesAreNamed() {
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray x = scope.zeros(new Shape(3, IN));
            NDArray w = scope.zeros(new Shape(OUT, IN));
            NDArray a = scope.zeros(new Shape(RANK, IN));
            NDArray bWrong = scope.zeros(new Shape(OUT, RANK + 1));
            String m = assertThrows(IllegalArgumentException.class,
                    () -> LoraAdapters.linear(x, w, null, a, bWrong, 1, null)).getMessage();
            assertTrue(m.contains("B [4, rank]") && m.contains("(4, 3)"), m);
            NDArray b = scope.zeros(new Shape(OUT, RANK));
            m = assertThrows(IllegalArgumentException.class,
                    () -> LoraAdapters.linear(x, w, null, a, b, 1, scope.ones(new Shape(3, IN + 1)))).getMessage();
            assertTrue(m.contains("dropout mask has shape (3, 6)"), m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> LoraAdapters.linear(scope.zeros(new Shape(3, 2)), w, null, a, b, 1, null)).getMessage();
            assertTrue(m.contains("5 inputs got x of shape (3, 2)"), m);
        }
    }

    /**
     * What autograd saved in forward (the mask, the scale constant) survives a collection and a heap
     * of NaN-filled direct buffers before backward: the gradients equal an undisturbed run's bit for bit.
     */
    @Test
    void gradientsSurviveCollectionsBetweenForwardAndBackward() {
        assertArrayEquals(gradients(false), gradients(true), 0f);
    }

    private static float[] gradients(boolean disturb) {
        SplittableRandom r = new SplittableRandom(23);
        boolean previous = Autograd.setGradMode(true);
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray a = Autograd.leaf(tensor(scope, random(r, RANK * IN, 0.5), DataType.FLOAT32, RANK, IN));
            NDArray bm = Autograd.leaf(tensor(scope, random(r, OUT * RANK, 0.5), DataType.FLOAT32, OUT, RANK));
            NDArray y;
            try (NDManager inputs = scope.newSubManager()) {
                NDArray x = tensor(inputs, random(r, ROWS * SEQ * IN, 1), DataType.FLOAT32, ROWS, SEQ, IN);
                NDArray mask = LoraAdapters.dropoutMask(inputs, x.getShape(), 0.4, DataType.FLOAT32,
                        new RankRandom(4, 0));
                y = LoraAdapters.linear(x, tensor(inputs, random(r, OUT * IN, 0.5), DataType.FLOAT32, OUT, IN),
                        null, a, bm, 1.7, mask);
                y.detach();
            }
            if (disturb) {
                List<ByteBuffer> pollution = new ArrayList<>();
                System.gc();
                for (int i = 0; i < 2000; i++) {
                    ByteBuffer buf = ByteBuffer.allocateDirect(64);
                    while (buf.remaining() >= 4) {
                        buf.putFloat(Float.NaN);
                    }
                    pollution.add(buf);
                }
            }
            y.attach(scope);
            Autograd.backward(y.square().sum(), scope.create(1f), false);
            float[] ga = Autograd.gradientOrNull(a).toFloatArray();
            float[] gb = Autograd.gradientOrNull(bm).toFloatArray();
            float[] both = new float[ga.length + gb.length];
            System.arraycopy(ga, 0, both, 0, ga.length);
            System.arraycopy(gb, 0, both, ga.length, gb.length);
            return both;
        } finally {
            Autograd.setGradMode(previous);
        }
    }
}
