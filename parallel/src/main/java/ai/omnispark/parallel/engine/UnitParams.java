package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Where a unit's full parameters come from during a micro-batch and where its gradient goes.
 * Local training hands out the master weights; FSDP gathers shards and reduce-scatters gradients.
 */
public interface UnitParams {
    /**
     * The unit's full flat parameters for computing. The engine records gradients on a leaf that
     * shares this array's storage, so the array must stay valid until {@link #release}.
     */
    NDArray acquire(String unit, NDManager scope);

    /**
     * Whether {@code unit} trains. The engine records no gradient on a frozen unit's parameters
     * (gradients still flow through it to the segment inputs) and hands it none.
     */
    default boolean trainable(String unit) {
        return true;
    }

    /** The engine no longer needs the full parameters of {@code unit} for now. */
    default void release(String unit) {}

    /** A hint that {@code unit} will be acquired next, so it can be fetched ahead. */
    default void prefetch(String unit) {}

    /**
     * The unit's full flat gradient from one micro-batch, or null if no gradient reached it. The
     * array belongs to the engine's scope: copy or reduce it before returning.
     */
    void accumulateGrad(String unit, NDArray grad);
}
