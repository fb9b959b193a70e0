package ai.omnispark.models.api;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.engine.Batch;

/**
 * What a family offers for greedy or sampled decoding with a key/value cache ({@link Model#cachedDecoding}):
 * the batches of its evaluation segments for the prompt and then for one token at a time. Each
 * batch's forward leaves the keys and values of its attention layers in it; {@link #next} hands
 * them on, so a step runs only its new token. The logits are the evaluation segments' last output.
 */
public interface CachedDecoding {
    /** The batch of the whole prompt (one row, as the family's collator takes it, labels ignored). */
    Batch prompt(NDManager scope, Sample prompt, DataType dtype);

    /**
     * The batch of {@code token}, which follows what {@code previous} ran (after its forward); it
     * takes {@code previous}'s cache into {@code scope}, so {@code previous}'s scope may then close.
     */
    Batch next(NDManager scope, Batch previous, int token, DataType dtype);
}
