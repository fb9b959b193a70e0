package ai.omnispark.parallel.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdamWTest {
    /** Scalar AdamW as in Loshchilov & Hutter with PyTorch's bias correction and eps placement. */
    private static void reference(double[] p, double[] g, double[] m, double[] v, double[] mask, long t,
            double lr, AdamW.Config c) {
        double bc1 = 1 - Math.pow(c.beta1(), t);
        double bc2 = 1 - Math.pow(c.beta2(), t);
        for (int i = 0; i < p.length; i++) {
            m[i] = c.beta1() * m[i] + (1 - c.beta1()) * g[i];
            v[i] = c.beta2() * v[i] + (1 - c.beta2()) * g[i] * g[i];
            p[i] -= lr * c.weightDecay() * mask[i] * p[i];
            p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + c.eps());
        }
    }

    @Test
    void matchesScalarReferenceOverSeveralSteps() {
        AdamW.Config c = new AdamW.Config(0.9, 0.95, 1e-8, 0.1);
        double[] p = {0.5, -1.0, 2.0, 0.0};
        double[] mask = {1, 1, 0, 1};
        double[] m = new double[4];
        double[] v = new double[4];
        try (NDManager manager = NDManager.newBaseManager(); AdamW opt = new AdamW(manager, c)) {
            NDArray param = manager.create(p);
            NDArray maskArray = manager.create(mask);
            for (int step = 1; step <= 5; step++) {
                double[] g = {0.1 * step, -0.2, 0.3 / step, 1e-3};
                double lr = 0.01 * step;
                reference(p, g, m, v, mask, step, lr, c);
                opt.beginStep();
                opt.update("w", param, manager.create(g), maskArray, lr);
            }
            assertArrayEquals(p, param.toDoubleArray(), 1e-12);
            assertEquals(5, opt.stepCount());
        }
    }

    @Test
    void rejectsMismatchedGradientAndBadHyperparameters() {
        try (NDManager manager = NDManager.newBaseManager();
                AdamW opt = new AdamW(manager, new AdamW.Config(0.9, 0.999, 1e-8, 0))) {
            opt.beginStep();
            NDArray p = manager.zeros(new ai.djl.ndarray.types.Shape(3), DataType.FLOAT32);
            NDArray g = manager.zeros(new ai.djl.ndarray.types.Shape(4), DataType.FLOAT32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> opt.update("w", p, g, null, 0.1));
            assertEquals(true, e.getMessage().contains("w"));
        }
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Config(1.0, 0.9, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Config(0.9, 0.9, 0, 0));
    }

    @Test
    void clipScalesToTheGlobalNorm() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray a = manager.create(new double[] {3, 0});
            NDArray b = manager.create(new double[] {0, 4});
            double norm = GradClip.clip(List.of(a, b), 1.0, x -> x);
            assertEquals(5.0, norm, 1e-12);
            assertArrayEquals(new double[] {3 / (5 + 1e-6), 0}, a.toDoubleArray(), 1e-12);
            assertArrayEquals(new double[] {0, 4 / (5 + 1e-6)}, b.toDoubleArray(), 1e-12);
            // A norm below the limit leaves gradients alone.
            assertEquals(1.0, GradClip.clip(List.of(manager.create(new double[] {1})), 2.0, x -> x), 1e-12);
        }
    }

    /**
     * Groups: "adapter.*" keys train at half the learning rate with their own weight decay, "bias"
     * keys with none; the rest use the optimizer's defaults. Against the scalar float64 reference run
     * with lr/2 and the group's decay, the full lr and the default decay, over several steps.
     */
    @Test
    void parameterGroupsScaleTheLearningRateAndSetTheirOwnDecay() {
        AdamW.Config c = new AdamW.Config(0.9, 0.95, 1e-8, 0.1);
        AdamW.Config adapterC = new AdamW.Config(0.9, 0.95, 1e-8, 0.3);
        AdamW.Config noDecay = new AdamW.Config(0.9, 0.95, 1e-8, 0);
        List<ParamGroup> groups = List.of(
                new ParamGroup("adapters", k -> k.startsWith("adapter."), 0.5, 0.3),
                new ParamGroup("biases", k -> k.endsWith("bias"), 1.0, 0),
                // Never reached for adapter keys: the first matching group wins.
                new ParamGroup("shadowed", k -> k.startsWith("adapter."), 10, 0));
        String[] keys = {"adapter.q", "base.w", "base.bias"};
        AdamW.Config[] configs = {adapterC, c, noDecay};
        double[] lrScales = {0.5, 1, 1};
        double[][] p = {{0.5, -1.0, 2.0}, {0.5, -1.0, 2.0}, {0.5, -1.0, 2.0}};
        double[][] m = new double[3][3];
        double[][] v = new double[3][3];
        double[] mask = {1, 0, 1};
        try (NDManager manager = NDManager.newBaseManager(); AdamW opt = new AdamW(manager, c, groups)) {
            NDArray[] params = new NDArray[3];
            for (int k = 0; k < 3; k++) {
                params[k] = manager.create(p[k]);
            }
            NDArray maskArray = manager.create(mask);
            for (int step = 1; step <= 4; step++) {
                double[] g = {0.1 * step, -0.2, 0.3 / step};
                double lr = 0.01 * step;
                opt.beginStep();
                for (int k = 0; k < 3; k++) {
                    reference(p[k], g, m[k], v[k], mask, step, lr * lrScales[k], configs[k]);
                    opt.update(keys[k], params[k], manager.create(g), maskArray, lr);
                }
            }
            for (int k = 0; k < 3; k++) {
                assertArrayEquals(p[k], params[k].toDoubleArray(), 1e-12, keys[k]);
            }
            assertEquals("adapters", opt.groupOf("adapter.q").name());
            assertEquals(null, opt.groupOf("base.w"));
            assertEquals(2 * 3 * 8, opt.stateBytes("base.w"), "exp_avg and exp_avg_sq of 3 float64 elements");
            assertEquals(0, opt.stateBytes("never.updated"));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ParamGroup("lora", k -> true, -1, 0));
        assertEquals(true, e.getMessage().contains("lora") && e.getMessage().contains("lrScale"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ParamGroup("lora", k -> true, 1, Double.NaN));
    }
}
