package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.engine.UnitParams;
import ai.omnispark.parallel.optim.Optimizer;
import java.util.List;

/**
 * A model's parameters on one rank, however they are laid out: whole on every rank
 * ({@link LocalParams}) or sharded (FSDP), trainable or frozen ({@link Placement}); built by
 * {@link ParamStores#build}. The trainer talks to this and not to the layout.
 */
public interface ParamStore extends UnitParams, AutoCloseable {
    List<UnitLayout> layouts();

    /**
     * Whether this rank holds (its shard of) {@code unit}. A unit partitioned across a mesh dimension
     * ({@link UnitLayout.Partition}) is held by the ranks of one coordinate only; the others can
     * still take part in {@link #fullWeights} but own no slice of it ({@link #owned} fails).
     */
    default boolean holds(String unit) {
        return true;
    }

    /**
     * Clips the accumulated gradients to a global L2 norm of {@code maxNorm} (0: no clipping).
     *
     * @return the global norm before clipping
     */
    double clipGradNorm(double maxNorm);

    /**
     * Applies one optimizer step ({@link Optimizer#beginStep} once, then an update per trainable
     * unit) with the accumulated gradients, then zeroes them. Frozen units are left as they are.
     */
    void step(Optimizer optimizer, double lr);

    /** The full flat weights of {@code unit}, gathered if sharded, as a copy owned by {@code scope}. */
    NDArray fullWeights(String unit, NDManager scope);

    /**
     * This rank's part in another rank's {@link #fullWeights} of {@code unit}, keeping nothing: a
     * no-op where every rank holds whole weights, the same collective (results freed at once) where
     * they are sharded. Lets only the rank that writes a gathered copy hold one.
     */
    void joinFullWeights(String unit);

    /** Overwrites the whole of {@code unit}'s weights (import); {@code flat} is in the unit's layout. */
    void loadFullWeights(String unit, NDArray flat);

    /** Which elements of {@code unit} this rank keeps; optimizer state is laid out the same way. */
    OwnedSlice owned(String unit);

    /** A host copy of this rank's owned weights of {@code unit} ({@link OwnedSlice#length()} values). */
    float[] ownedWeights(String unit);

    /** Overwrites this rank's owned weights of {@code unit} (checkpoint load). */
    void loadOwnedWeights(String unit, float[] values);

    /**
     * Bytes of weights, gradients and optimizer state this rank holds, counted from live tensors:
     * a frozen unit counts its (owned) weights only.
     */
    long stateBytes(Optimizer optimizer);

    /**
     * Bytes of every tensor this store holds, whatever it is for (weights, gradients, decay masks,
     * leftovers), counted from its manager: what {@link #stateBytes} does not show.
     */
    long heldBytes();

    @Override
    void close();
}
