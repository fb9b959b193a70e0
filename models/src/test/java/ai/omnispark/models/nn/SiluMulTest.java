package ai.omnispark.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SwiGLU's activation, fused through libtorch and on the DJL fallback, against a float64
 * reference: silu(g) * u, and its gradients u * s * (1 + g * (1 - s)) w.r.t. g and silu(g) w.r.t.
 * u (s = sigmoid(g)), within 1e-6 relative to each tensor's largest value.
 */
class SiluMulTest {
    private static final Shape SHAPE = new Shape(2, 5, 12);
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

    @Test
    void theFusedKernelGivesTheReferenceValuesAndGradients() {
        try (SiluMul kernel = new SiluMul()) {
            check(kernel, 7);
            assertTrue(kernel.fused(), "the generated module should load on this libtorch");
            check(kernel, 8); // the loaded module again
        }
    }

    @Test
    void aModuleThatCannotBeLoadedFallsBackToDjlOpsWithTheSameNumbers() {
        BiFunction<String, String, byte[]> broken = (name, source) -> new byte[] {'n', 'o', 't'};
        try (SiluMul kernel = new SiluMul(broken)) {
            check(kernel, 9);
            assertFalse(kernel.fused(), "a failed load should leave the DJL path in use");
        }
    }

    @Test
    void aClosedKernelRefusesWork() {
        SiluMul kernel = new SiluMul();
        kernel.close();
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray x = Ops.owned(scope.create(new float[] {1f}), DataType.FLOAT32);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> kernel.apply(x, x));
            assertEquals("the SiLU kernel was closed with its model", e.getMessage());
        }
    }

    private static void check(SiluMul kernel, long seed) {
        Random random = new Random(seed);
        int n = (int) SHAPE.size();
        float[] g = new float[n];
        float[] u = new float[n];
        float[] seedGrad = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) (4 * random.nextGaussian());
            u[i] = (float) random.nextGaussian();
            seedGrad[i] = (float) random.nextGaussian();
        }
        double[] out = new double[n];
        double[] dg = new double[n];
        double[] du = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 1 / (1 + Math.exp(-g[i]));
            out[i] = g[i] * s * u[i];
            dg[i] = seedGrad[i] * u[i] * s * (1 + g[i] * (1 - s));
            du[i] = seedGrad[i] * g[i] * s;
        }
        boolean previous = Autograd.setGradMode(true);
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray ga = Autograd.leaf(Ops.owned(scope.create(g, SHAPE), DataType.FLOAT32));
            NDArray ua = Autograd.leaf(Ops.owned(scope.create(u, SHAPE), DataType.FLOAT32));
            NDArray y = kernel.apply(ga, ua);
            assertEquals(SHAPE, y.getShape());
            assertClose("output", out, y.toFloatArray());
            NDArray loss = y.mul(Ops.owned(scope.create(seedGrad, SHAPE), DataType.FLOAT32)).sum();
            Autograd.backward(loss, Ops.constant(loss, 1), false);
            assertClose("d gate", dg, Autograd.gradientOrNull(ga).toFloatArray());
            assertClose("d up", du, Autograd.gradientOrNull(ua).toFloatArray());
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    private static void assertClose(String what, double[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": element count");
        double scale = 0;
        for (double w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]) / scale;
            assertTrue(err <= 1e-6, what + "[" + i + "]: " + got[i] + " vs " + want[i] + " (relative " + err + ")");
        }
    }
}
