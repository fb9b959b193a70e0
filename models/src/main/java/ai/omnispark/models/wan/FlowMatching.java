package ai.omnispark.models.wan;

import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.parallel.runtime.RankRandom;

/**
 * The flow-matching objective of VeOmni's Wan recipe. A sample draws a grid index i uniformly from
 * {@value #STEPS} (sigma = (i + 1) / 1000, diffusers' FlowMatchEulerDiscreteScheduler training
 * grid), shifted sigma' = s sigma / (1 + (s - 1) sigma), timestep t = 1000 sigma', noisy latents
 * x_t = (1 - sigma') x0 + sigma' eps and velocity target eps - x0. Gaussian timestep weighting:
 * y = exp(-2 ((t - 500) / 1000)^2) over the grid's timesteps, w = (y - min y) 1000 / sum(y - min y)
 * (mean 1 over the grid); "none" weighs every sample 1.
 */
public final class FlowMatching {
    /** Training grid size. */
    public static final int STEPS = 1000;

    private final DiffusionOptions options;
    private final double[] weights;

    public FlowMatching(DiffusionOptions options) {
        this.options = options;
        this.weights = options.timestepWeighting().equals(DiffusionOptions.GAUSSIAN) ? gaussianWeights(options.flowShift())
                : null;
    }

    public DiffusionOptions options() {
        return options;
    }

    /** Unshifted sigma of grid index {@code i}: (i + 1) / 1000. */
    public static double sigma(int i) {
        if (i < 0 || i >= STEPS) {
            throw new IllegalArgumentException("grid index must be in [0, " + STEPS + "), got " + i);
        }
        return (i + 1) / (double) STEPS;
    }

    /** s sigma / (1 + (s - 1) sigma). */
    public static double shift(double sigma, double shift) {
        return shift * sigma / (1 + (shift - 1) * sigma);
    }

    /** The gaussian weight of every grid index under {@code shift}. */
    public static double[] gaussianWeights(double shift) {
        double[] y = new double[STEPS];
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < STEPS; i++) {
            double t = STEPS * shift(sigma(i), shift);
            y[i] = Math.exp(-2 * Math.pow((t - 500) / 1000, 2));
            min = Math.min(min, y[i]);
        }
        double sum = 0;
        for (int i = 0; i < STEPS; i++) {
            y[i] -= min;
            sum += y[i];
        }
        for (int i = 0; i < STEPS; i++) {
            y[i] = y[i] * STEPS / sum;
        }
        return y;
    }

    /** The loss weight of a sample drawn at grid index {@code i}. */
    public double weight(int i) {
        return weights == null ? 1 : weights[i];
    }

    /** One sample's draws, in this order: grid index, whether its text drops, then its noise. */
    public record Draw(int index, double sigma, double timestep, double weight, boolean dropText, double[] noise) {}

    /**
     * Draws one sample's timestep, text dropout and {@code elements} standard-normal noise values
     * from {@code random}, always in that order (noise by Box-Muller from pairs of uniforms), so a
     * run resumed with the generator's saved state draws the same.
     */
    public Draw draw(RankRandom random, int elements, boolean training) {
        int i = Math.min(STEPS - 1, (int) (random.nextDouble() * STEPS));
        double drop = random.nextDouble();
        double[] noise = new double[elements];
        for (int k = 0; k < elements; k += 2) {
            double u1 = 1 - random.nextDouble(); // (0, 1]: log stays finite
            double u2 = random.nextDouble();
            double r = Math.sqrt(-2 * Math.log(u1));
            noise[k] = r * Math.cos(2 * Math.PI * u2);
            if (k + 1 < elements) {
                noise[k + 1] = r * Math.sin(2 * Math.PI * u2);
            }
        }
        double s = shift(sigma(i), options.flowShift());
        return new Draw(i, s, STEPS * s, weight(i), training && drop < options.textDropout(), noise);
    }
}
