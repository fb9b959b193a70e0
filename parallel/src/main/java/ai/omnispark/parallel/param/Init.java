package ai.omnispark.parallel.param;

import java.util.SplittableRandom;

/** How a parameter starts: deterministic from (seed, parameter name), whatever rank computes it. */
public sealed interface Init {
    /** Fills {@code out} with this parameter's initial values. */
    void fill(double[] out, long seed, String name);

    record Normal(double std) implements Init {
        @Override
        public void fill(double[] out, long seed, String name) {
            SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * name.hashCode()));
            for (int i = 0; i < out.length; i++) {
                out[i] = random.nextGaussian() * std;
            }
        }
    }

    record Constant(double value) implements Init {
        @Override
        public void fill(double[] out, long seed, String name) {
            java.util.Arrays.fill(out, value);
        }
    }

    static Init normal(double std) {
        return new Normal(std);
    }

    static Init ones() {
        return new Constant(1.0);
    }

    static Init zeros() {
        return new Constant(0.0);
    }
}
