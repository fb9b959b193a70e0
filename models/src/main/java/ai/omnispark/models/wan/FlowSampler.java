package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.runtime.Autograd;

/**
 * Euler sampler of a flow-matching model, as Wan samples: x goes from noise at sigma = 1 to the
 * sample at sigma = 0 along dx/dsigma = v(x, t), with v the model's prediction of noise − x0 (the
 * training target, x_sigma = (1 − sigma) x0 + sigma·noise). The N steps use Wan's grid: sigma_i = 1 − i/N
 * for i = 0..N, shifted like training, sigma' = shift·sigma / (1 + (shift − 1)·sigma), so the grid
 * still runs from 1 to 0 and spends more steps at high noise when shift > 1; the model sees
 * t = 1000·sigma'. One step: x ← x + (sigma'_{i+1} − sigma'_i)·v(x, t_i).
 *
 * <p>Classifier-free guidance: v = v_uncond + g·(v_cond − v_uncond); at g = 1 that is v_cond, and
 * the unconditional prediction is not asked for.
 *
 * <p>Memory: {@link #sample} returns a new array attached to the noise's manager and leaves the
 * noise as it is. Each step opens a sub-manager of the noise's manager and closes it at the end of
 * the step; x is attached to it meanwhile, so the predictions and every array the velocity derives
 * from x (or makes with {@code x.getManager()}) are freed with the step, and sampling holds two
 * latents and one step's arrays whatever N is. Sampling runs with autograd's recording off.
 */
public final class FlowSampler {
    /** The model's prediction at x and timestep t (0–1000 scale), with or without the conditioning. */
    @FunctionalInterface
    public interface Velocity {
        /**
         * Returns a new array of x's shape and dtype, which the sampler then owns and closes; it must
         * not close or change {@code x}. Arrays made from x or on {@code x.getManager()} are freed at
         * the end of the step; arrays kept across steps belong on the velocity's own manager.
         */
        NDArray at(NDArray x, float t, boolean conditional);
    }

    private final int steps;
    private final double shift;
    private final double guidance;

    /**
     * @param steps Euler steps N, at least 1
     * @param shift the sigma shift (> 0; 1 leaves the grid uniform; Wan samples 480p at 3 to 5)
     * @param guidance the classifier-free guidance scale g (finite; 1 = conditional only)
     */
    public FlowSampler(int steps, double shift, double guidance) {
        if (steps < 1) {
            throw new IllegalArgumentException("sampling needs at least 1 step, got " + steps);
        }
        if (!(shift > 0 && shift < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("the flow shift must be a finite number > 0, got " + shift);
        }
        if (!Double.isFinite(guidance)) {
            throw new IllegalArgumentException("the guidance scale must be finite, got " + guidance);
        }
        this.steps = steps;
        this.shift = shift;
        this.guidance = guidance;
    }

    public int steps() {
        return steps;
    }

    public double shift() {
        return shift;
    }

    public double guidance() {
        return guidance;
    }

    /** The N + 1 shifted sigmas, from exactly 1 down to exactly 0. */
    public double[] sigmas() {
        double[] sigmas = new double[steps + 1];
        for (int i = 0; i <= steps; i++) {
            sigmas[i] = FlowMatching.shift(1 - (double) i / steps, shift);
        }
        sigmas[0] = 1;
        sigmas[steps] = 0;
        return sigmas;
    }

    /** The timesteps the model sees, t_i = 1000·sigma'_i for the N steps (the last sigma, 0, is no step). */
    public float[] timesteps() {
        double[] sigmas = sigmas();
        float[] t = new float[steps];
        for (int i = 0; i < steps; i++) {
            t[i] = (float) (1000 * sigmas[i]);
        }
        return t;
    }

    /**
     * Integrates from {@code noise} (sigma = 1) to sigma = 0.
     *
     * @return the sample, a new array of the noise's shape and type attached to the noise's manager
     * @throws IllegalArgumentException when the velocity returns its input or an array of another shape
     */
    public NDArray sample(NDArray noise, Velocity velocity) {
        NDManager owner = noise.getManager();
        double[] sigmas = sigmas();
        float[] timesteps = timesteps();
        boolean recording = Autograd.setGradMode(false);
        NDArray x = noise.duplicate();
        try {
            for (int i = 0; i < steps; i++) {
                NDArray next;
                try (NDManager step = owner.newSubManager()) {
                    // While x sits in the step's manager, whatever the velocity derives from it lands there too.
                    x.tempAttach(step);
                    NDArray v = guided(x, timesteps[i], velocity, step);
                    next = x.add(Ops.scale(v, sigmas[i + 1] - sigmas[i]));
                    next.attach(owner);
                }
                x.close();
                x = next;
            }
            return x;
        } catch (RuntimeException e) {
            x.close();
            throw e;
        } finally {
            Autograd.setGradMode(recording);
        }
    }

    /** v_uncond + g (v_cond − v_uncond), in {@code step}; v_cond alone at g = 1. */
    private NDArray guided(NDArray x, float t, Velocity velocity, NDManager step) {
        NDArray conditional = owned(velocity.at(x, t, true), x, t, step);
        if (guidance == 1) {
            return conditional;
        }
        NDArray unconditional = owned(velocity.at(x, t, false), x, t, step);
        return unconditional.add(Ops.scale(conditional.sub(unconditional), guidance));
    }

    private static NDArray owned(NDArray v, NDArray x, float t, NDManager step) {
        if (v == null || v == x) {
            throw new IllegalArgumentException("the velocity at t = " + t + " returned "
                    + (v == null ? "null" : "its input x") + "; it must return a new array");
        }
        v.attach(step);
        if (!v.getShape().equals(x.getShape()) || v.getDataType() != x.getDataType()) {
            throw new IllegalArgumentException("the velocity at t = " + t + " is " + v.getDataType() + " "
                    + v.getShape() + ", x is " + x.getDataType() + " " + x.getShape());
        }
        return v;
    }
}
