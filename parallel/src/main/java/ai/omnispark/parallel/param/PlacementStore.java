package ai.omnispark.parallel.param;

import ai.omnispark.parallel.optim.GradClip;
import ai.omnispark.parallel.optim.Optimizer;

/**
 * The store of the units of one {@link Placement}: a member of the composite that
 * {@link ParamStores#build} returns, which clips and steps its members together.
 */
public interface PlacementStore extends ParamStore {
    Placement placement();

    /**
     * The sum of squares of this store's accumulated gradients over every shard of the job, each
     * shard counted once (a collective where sharded; 0 and no collective when frozen).
     */
    double gradSquares();

    /** Multiplies the accumulated gradients by {@code factor} (clipping). */
    void scaleGrads(double factor);

    /**
     * Updates every unit from its accumulated gradient within a step the caller has begun
     * ({@link Optimizer#beginStep}), then zeroes the gradients; a frozen store changes nothing.
     */
    void update(Optimizer optimizer, double lr);

    /** The job-wide norm from {@link #gradSquares}; the gradients scaled down to {@code maxNorm} when above it. */
    @Override
    default double clipGradNorm(double maxNorm) {
        double norm = Math.sqrt(gradSquares());
        double scale = GradClip.scale(norm, maxNorm);
        if (scale != 1) {
            scaleGrads(scale);
        }
        return norm;
    }

    @Override
    default void step(Optimizer optimizer, double lr) {
        optimizer.beginStep();
        update(optimizer, lr);
    }
}
