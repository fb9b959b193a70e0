package ai.omnispark.models.api;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/** A family's turning of samples (shard columns) into the batch tensors its segments read. */
public interface Collator {
    /**
     * @param scope owns the batch tensors
     * @param random the rank's generator for training-time randomness the batch carries (e.g.
     *     dropout masks), drawn in a fixed order so a resumed run draws the same; null when
     *     evaluating, which draws nothing
     */
    Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random);
}
