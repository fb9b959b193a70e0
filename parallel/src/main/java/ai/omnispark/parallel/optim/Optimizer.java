package ai.omnispark.parallel.optim;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * Updates flat tensors (whole units or FSDP shards) from their gradients, keeping per-element state
 * keyed by unit. A parameter store calls {@link #beginStep} once per optimizer step, then
 * {@link #update} once per trainable unit; frozen units are never passed in and get no state.
 */
public interface Optimizer extends AutoCloseable {
    /** Starts the next optimizer step; bias corrections and schedules use the new count. */
    void beginStep();

    /** Number of completed optimizer steps. */
    long stepCount();

    /** Restores the step count (resume). */
    void setStepCount(long count);

    /**
     * Updates {@code param} in place from {@code grad}.
     *
     * @param key identifies the tensor's state across steps (the unit name)
     * @param decayMask 1 where weight decay applies, 0 elsewhere; null for decay everywhere
     * @param lr the scheduled learning rate, before any per-group scale
     */
    void update(String key, NDArray param, NDArray grad, NDArray decayMask, double lr);

    /**
     * Names of the per-element state tensors of a key, in the order of {@link #state}; a checkpoint
     * stores them as {@code key + "." + name}.
     */
    List<String> stateNames();

    /** The state tensors of {@code key} in {@link #stateNames} order, or null before its first update. */
    NDArray[] state(String key);

    /** Installs state for {@code key} (resume), one tensor per {@link #stateNames} entry; the arrays are copied. */
    void setState(String key, NDArray... tensors);

    /** Every key's state. */
    Map<String, NDArray[]> states();

    /** Bytes of live state tensors held for {@code key} (0 before its first update). */
    long stateBytes(String key);

    @Override
    void close();
}
