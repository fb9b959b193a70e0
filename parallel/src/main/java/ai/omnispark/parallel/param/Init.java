package ai.omnispark.parallel.param;

import java.util.SplittableRandom;

/** How a parameter starts: deterministic from (seed, parameter name), whatever rank computes it. */
public sealed interface Init {
    /**
     * The parameter's initial values in order, produced a part at a time so that a parameter of any
     * size is initialised without holding all of it in Java memory.
     */
    interface Values {
        /** Writes the next {@code length} values into {@code out[0, length)}. */
        void next(double[] out, int length);
    }

    Values values(long seed, String name);

    /** Fills {@code out} with this parameter's initial values (its first {@code out.length}). */
    default void fill(double[] out, long seed, String name) {
        values(seed, name).next(out, out.length);
    }

    record Normal(double std) implements Init {
        @Override
        public Values values(long seed, String name) {
            SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * name.hashCode()));
            return (out, length) -> {
                for (int i = 0; i < length; i++) {
                    out[i] = random.nextGaussian() * std;
                }
            };
        }
    }

    record Constant(double value) implements Init {
        @Override
        public Values values(long seed, String name) {
            return (out, length) -> java.util.Arrays.fill(out, 0, length, value);
        }
    }

    /**
     * PyTorch's {@code kaiming_uniform_(w, a)} for a weight whose fan-in is {@code fanIn}: uniform in
     * [-bound, bound) with bound = sqrt(6 / ((1 + a^2) fanIn)). PEFT starts LoRA's A this way with
     * a = sqrt(5), where the bound is 1/sqrt(fanIn).
     */
    record KaimingUniform(double a, long fanIn) implements Init {
        public KaimingUniform {
            if (fanIn <= 0) {
                throw new IllegalArgumentException("kaiming_uniform needs a positive fan-in, got " + fanIn);
            }
            if (!Double.isFinite(a)) {
                throw new IllegalArgumentException("kaiming_uniform needs a finite negative slope a, got " + a);
            }
        }

        public double bound() {
            return Math.sqrt(6.0 / ((1 + a * a) * fanIn));
        }

        @Override
        public Values values(long seed, String name) {
            SplittableRandom random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * name.hashCode()));
            double bound = bound();
            return (out, length) -> {
                for (int i = 0; i < length; i++) {
                    out[i] = (2 * random.nextDouble() - 1) * bound;
                }
            };
        }
    }

    static Init normal(double std) {
        return new Normal(std);
    }

    /** {@code kaiming_uniform_(w, a)} for a weight of fan-in {@code fanIn} (see {@link KaimingUniform}). */
    static Init kaimingUniform(double a, long fanIn) {
        return new KaimingUniform(a, fanIn);
    }

    static Init ones() {
        return new Constant(1.0);
    }

    static Init zeros() {
        return new Constant(0.0);
    }
}
