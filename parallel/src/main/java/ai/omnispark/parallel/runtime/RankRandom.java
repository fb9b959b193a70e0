package ai.omnispark.parallel.runtime;

/**
 * The random stream of one rank (dropout masks, and later diffusion noise): SplitMix64, whose
 * whole state is one {@code long}, so a checkpoint saves it and a resumed run continues the exact
 * stream. Seeded from the run's seed and the rank, so ranks draw different masks for their
 * different rows and a rerun draws the same ones. Not shared between threads: each rank owns its
 * own, and nothing in it is static.
 */
public final class RankRandom {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private long state;

    public RankRandom(long seed, int rank) {
        if (rank < 0) {
            throw new IllegalArgumentException("rank must be >= 0, got " + rank);
        }
        this.state = mix(mix(seed) ^ mix(rank + GOLDEN_GAMMA));
    }

    /** The next 64 random bits. */
    public long nextLong() {
        state += GOLDEN_GAMMA;
        return mix(state);
    }

    /** Uniform in [0, 1), with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Everything {@link #restore} needs to continue this stream. */
    public long state() {
        return state;
    }

    /** Continues the stream a {@link #state()} was taken from. */
    public void restore(long saved) {
        state = saved;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
