package ai.omnispark.trainer.loop;

import ai.omnispark.parallel.fsdp.ShardGroup;

/**
 * What the loop needs to agree on with the other data-parallel ranks: sums of per-rank numbers
 * and the minimum of per-rank counts. Every rank calls each method at the same point.
 */
public interface DataParallel {
    /** Sums a per-rank number (a loss sum) over the data-parallel ranks, to about 1e-7 relative. */
    double sum(double value);

    /** Sums a per-rank count (tokens) exactly. */
    long count(long value);

    /** The smallest per-rank value. */
    long min(long value);

    /** One data-parallel rank: every number is already global. */
    static DataParallel single() {
        return new DataParallel() {
            @Override
            public double sum(double value) {
                return value;
            }

            @Override
            public long count(long value) {
                return value;
            }

            @Override
            public long min(long value) {
                return value;
            }
        };
    }

    /** Every rank of the job is a data-parallel rank (FSDP, HSDP, DDP): the group's job-wide reductions. */
    static DataParallel over(ShardGroup group) {
        return new DataParallel() {
            @Override
            public double sum(double value) {
                return group.sumAll(value);
            }

            @Override
            public long count(long value) {
                return group.countAll(value);
            }

            @Override
            public long min(long value) {
                return group.minAll(value);
            }
        };
    }
}
