package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;

/**
 * The collectives FSDP needs over the ranks that shard a unit, plus the replicas of HSDP. Shards
 * are equal-sized slices of a padded flat tensor, rank i holding slice i.
 */
public interface ShardGroup {
    /** This rank's index among the shard ranks. */
    int rank();

    /** Number of ranks a unit is sharded over. */
    int size();

    /** Starts gathering every rank's {@code shard} into {@code full} (size × shard elements). */
    Pending allGather(NDArray shard, NDArray full);

    /**
     * Sums {@code full} over the shard ranks and, under HSDP, over the replicas, and writes this
     * rank's slice of the sum into {@code shard}.
     */
    Pending reduceScatterSum(NDArray full, NDArray shard);

    /** Sums a number over every rank of the job (shard ranks and replicas). */
    double sumAll(double value);

    /**
     * Sums a number over the shard group only: what each shard rank holds of a sharded quantity
     * (e.g. its part of the squared gradient norm), which replicas hold again identically.
     */
    double sumShards(double value);

    /**
     * Sums a count (tokens, rows) over every rank of the job in 64-bit integers: exact at any size,
     * where {@link #sumAll} is exact only below 2^24.
     */
    long countAll(long count);

    /** The smallest of every rank's {@code value}: what all ranks can agree to do (steps, rows). */
    long minAll(long value);

    /** A collective under way. */
    interface Pending {
        /** Waits for completion; rethrows the collective's failure. */
        void await();
    }
}
