package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Euler flow sampler against flows whose exact velocity is known in closed form.
 *
 * <p>Take x0 ~ N(mu, s²) per element and x_sigma = (1 − sigma) x0 + sigma·eps, eps ~ N(0, 1). The
 * velocity field that transports the noise to the data is v(x, sigma) = E[eps − x0 | x_sigma = x];
 * (eps − x0, x_sigma) is jointly Gaussian, so v = −mu + c(sigma)·(x − (1 − sigma) mu) with
 * c = Cov(eps − x0, x_sigma) / Var(x_sigma) = (sigma − (1 − sigma) s²) / ((1 − sigma)² s² + sigma²).
 * The ODE dx/dsigma = v started at x(1) = z has the solution x(sigma) = (1 − sigma) mu +
 * sqrt((1 − sigma)² s² + sigma²)·z (differentiate: the derivative is −mu + c·(x − (1 − sigma) mu)), so
 * the exact sample is mu + s·z. For s = 0 (x0 a fixed tensor) v = (x − mu)/sigma and one Euler step
 * from sigma_i to sigma_{i+1} scales x − mu by sigma_{i+1}/sigma_i: Euler is exact on any grid.
 */
class FlowSamplerTest {
    private static final int N = 96;
    private static NDManager manager;
    private static float[] z;
    private static double[] muA;
    private static double[] sA;
    private static double[] muB;
    private static double[] sB;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        SplittableRandom random = new SplittableRandom(16);
        z = new float[N];
        muA = new double[N];
        sA = new double[N];
        muB = new double[N];
        sB = new double[N];
        for (int i = 0; i < N; i++) {
            z[i] = (float) gaussian(random);
            muA[i] = 2 * random.nextDouble() - 1;
            sA[i] = 0.2 + 0.5 * random.nextDouble();
            muB[i] = 2 * random.nextDouble() - 1;
            sB[i] = 0.2 + 0.5 * random.nextDouble();
        }
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @Test
    void theGridIsWansShiftedScheduleFromOneToZero() {
        FlowSampler sampler = new FlowSampler(4, 3.0, 1.0);
        // sigma = 1, 3/4, 1/2, 1/4, 0 → 3 sigma / (1 + 2 sigma), worked by hand
        assertArrayEquals(new double[] {1, 0.9, 0.75, 0.5, 0}, sampler.sigmas(), 1e-15);
        assertArrayEquals(new float[] {1000, 900, 750, 500}, sampler.timesteps(), 1e-4f);
        List<Float> seen = new ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            NDArray noise = scope.create(z, new Shape(N));
            sampler.sample(noise, (x, t, conditional) -> {
                seen.add(t);
                return gaussianVelocity(x, t, muA, sA);
            });
        }
        assertEquals(List.of(1000f, 900f, 750f, 500f), seen);
        assertArrayEquals(new double[] {1, 0.5, 0}, new FlowSampler(2, 1.0, 1.0).sigmas(), 0, "shift 1 is uniform");
    }

    @Test
    void aFixedTargetIsReachedExactlyOnAnyGrid() {
        double[] zero = new double[N];
        for (int steps : new int[] {1, 3, 30}) {
            float[] out = sample(new FlowSampler(steps, 5.0, 1.0), (x, t, c) -> gaussianVelocity(x, t, muA, zero));
            for (int i = 0; i < N; i++) {
                assertEquals(muA[i], out[i], 1e-5, "steps " + steps + ", element " + i);
            }
        }
    }

    @Test
    void eulerOnAGaussianTargetMatchesAFloat64EulerAndConvergesToTheExactSampleAtFirstOrder() {
        double[] errors = new double[3];
        int[] steps = {250, 500, 1000};
        for (int k = 0; k < steps.length; k++) {
            FlowSampler sampler = new FlowSampler(steps[k], 3.0, 1.0);
            float[] out = sample(sampler, (x, t, c) -> gaussianVelocity(x, t, muA, sA));
            double[] reference = referenceEuler(sampler, muA, sA, muA, sA);
            double maxError = 0;
            for (int i = 0; i < N; i++) {
                assertEquals(reference[i], out[i], 2e-5, "float32 sampler vs float64 Euler, element " + i);
                maxError = Math.max(maxError, Math.abs(out[i] - (muA[i] + sA[i] * z[i])));
            }
            errors[k] = maxError;
        }
        // first order: halving the step halves the error (the exact ODE solution is mu + s z)
        assertTrue(errors[0] / errors[1] > 1.7 && errors[0] / errors[1] < 2.3, "error ratio 250/500 steps: "
                + errors[0] / errors[1] + " " + java.util.Arrays.toString(errors));
        assertTrue(errors[1] / errors[2] > 1.7 && errors[1] / errors[2] < 2.3, "error ratio 500/1000 steps: "
                + errors[1] / errors[2] + " " + java.util.Arrays.toString(errors));
        // the error constant of this flow at shift 3 is about 4 (measured 0.0042 at 1000 steps)
        assertTrue(errors[2] < 6e-3, "1000 steps land within 6e-3 of mu + s z, got " + errors[2]);
    }

    @Test
    void guidanceCombinesBothPredictionsAndOneIsTheConditionalPathAlone() {
        FlowSampler.Velocity twoTargets = (x, t, conditional) -> conditional
                ? gaussianVelocity(x, t, muA, sA) : gaussianVelocity(x, t, muB, sB);
        int[] unconditionalCalls = {0};
        FlowSampler.Velocity counting = (x, t, conditional) -> {
            unconditionalCalls[0] += conditional ? 0 : 1;
            return twoTargets.at(x, t, conditional);
        };
        float[] guided1 = sample(new FlowSampler(20, 5.0, 1.0), counting);
        float[] conditionalOnly = sample(new FlowSampler(20, 5.0, 1.0), (x, t, c) -> gaussianVelocity(x, t, muA, sA));
        assertEquals(0, unconditionalCalls[0], "guidance 1 must not ask for the unconditional prediction");
        assertArrayEquals(conditionalOnly, guided1, 0f);

        FlowSampler guided = new FlowSampler(20, 5.0, 4.5);
        float[] out = sample(guided, counting);
        assertEquals(20, unconditionalCalls[0]);
        double[] reference = referenceEuler(guided, muA, sA, muB, sB);
        for (int i = 0; i < N; i++) {
            assertEquals(reference[i], out[i], 1e-4, "guidance 4.5, element " + i);
        }
        float[] zeroGuidance = sample(new FlowSampler(20, 5.0, 0.0), twoTargets);
        float[] unconditionalOnly = sample(new FlowSampler(20, 5.0, 1.0), (x, t, c) -> gaussianVelocity(x, t, muB, sB));
        assertArrayEquals(unconditionalOnly, zeroGuidance, 1e-6f);
    }

    @Test
    void theSamplerOwnsThePredictionsAndLeavesTheNoiseAlone() {
        List<NDArray> predictions = new ArrayList<>();
        List<NDArray> intermediates = new ArrayList<>();
        try (NDManager scope = manager.newSubManager()) {
            NDArray noise = scope.create(z, new Shape(2, N / 2));
            NDArray out = new FlowSampler(5, 5.0, 2.0).sample(noise, (x, t, c) -> {
                NDArray flat = x.reshape(N);
                intermediates.add(flat);
                NDArray v = gaussianVelocity(flat, t, muA, sA).reshape(x.getShape());
                predictions.add(v);
                return v;
            });
            assertEquals(new Shape(2, N / 2), out.getShape());
            assertEquals(scope, out.getManager());
            assertArrayEquals(z, noise.toFloatArray(), 0f, "the noise is unchanged");
            assertEquals(10, predictions.size());
            for (NDArray v : predictions) {
                assertTrue(v.isReleased(), "a prediction outlived its step");
            }
            for (NDArray v : intermediates) {
                assertTrue(v.isReleased(), "an array the velocity derived from x outlived its step");
            }
            assertTrue(!noise.isReleased() && !out.isReleased());
        }
    }

    @Test
    void badSettingsAndBadVelocitiesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new FlowSampler(0, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> new FlowSampler(10, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new FlowSampler(10, Double.NaN, 1));
        assertThrows(IllegalArgumentException.class, () -> new FlowSampler(10, 5, Double.POSITIVE_INFINITY));
        try (NDManager scope = manager.newSubManager()) {
            NDArray noise = scope.create(z, new Shape(N));
            IllegalArgumentException same = assertThrows(IllegalArgumentException.class,
                    () -> new FlowSampler(3, 5, 1).sample(noise, (x, t, c) -> x));
            assertTrue(same.getMessage().contains("returned its input"), same.getMessage());
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                    () -> new FlowSampler(3, 5, 1).sample(noise, (x, t, c) -> x.getManager().zeros(new Shape(2))));
            assertTrue(shape.getMessage().contains("(2)"), shape.getMessage());
            assertArrayEquals(z, noise.toFloatArray(), 0f);
        }
    }

    /** The sampler's output from {@link #z}, as floats. */
    private static float[] sample(FlowSampler sampler, FlowSampler.Velocity velocity) {
        try (NDManager scope = manager.newSubManager()) {
            return sampler.sample(scope.create(z, new Shape(N)), velocity).toFloatArray();
        }
    }

    /** The exact velocity towards N(mu, s²) at t (0–1000), computed in float64, as a float32 array. */
    private static NDArray gaussianVelocity(NDArray x, float t, double[] mu, double[] s) {
        float[] xs = x.toFloatArray();
        float[] v = new float[xs.length];
        double sigma = t / 1000.0;
        for (int i = 0; i < xs.length; i++) {
            v[i] = (float) velocity(xs[i], sigma, mu[i], s[i]);
        }
        return Ops.owned(x.getManager().create(v, x.getShape()), DataType.FLOAT32);
    }

    private static double velocity(double x, double sigma, double mu, double s) {
        double c = (sigma - (1 - sigma) * s * s) / ((1 - sigma) * (1 - sigma) * s * s + sigma * sigma);
        return -mu + c * (x - (1 - sigma) * mu);
    }

    /** Euler in float64 on the sampler's grid with v = vu + g (vc − vu), each at sigma = (float) t / 1000. */
    private static double[] referenceEuler(FlowSampler sampler, double[] muC, double[] sC, double[] muU, double[] sU) {
        double[] sigmas = sampler.sigmas();
        float[] t = sampler.timesteps();
        double g = sampler.guidance();
        double[] x = new double[N];
        for (int i = 0; i < N; i++) {
            x[i] = z[i];
        }
        for (int k = 0; k < sampler.steps(); k++) {
            double sigma = t[k] / 1000.0;
            for (int i = 0; i < N; i++) {
                double vc = velocity(x[i], sigma, muC[i], sC[i]);
                double vu = velocity(x[i], sigma, muU[i], sU[i]);
                x[i] += (sigmas[k + 1] - sigmas[k]) * (vu + g * (vc - vu));
            }
        }
        return x;
    }

    private static double gaussian(SplittableRandom random) {
        double u = 1 - random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
