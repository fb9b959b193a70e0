package ai.omnispark.trainer.loop;

import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;

/**
 * What the loop needs to agree on with the other data-parallel ranks: sums of per-rank numbers
 * and the minimum of per-rank counts, and which of them this rank is (the rows it reads). Every
 * rank calls each reduction at the same point.
 */
public interface DataParallel {
    /** This rank's index among the data-parallel ranks (from mesh coordinates, not the world rank). */
    int rank();

    /** The number of data-parallel ranks. */
    int size();

    /**
     * Sums a per-rank number (a loss sum) over every rank, to about 1e-7 relative: under Ulysses each
     * rank of a row's sp group adds the part of the row it computed.
     */
    double sum(double value);

    /** {@link #sum(double)} of each element (a new array; empty stays empty without a collective). */
    default double[] sum(double[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = sum(values[i]);
        }
        return out;
    }

    /**
     * Sums a count of this rank's rows (tokens) exactly over the data-parallel ranks: the ranks of one
     * sp group hold the same rows and count them once.
     */
    long count(long value);

    /**
     * Sums a per-rank integer exactly over every rank, sp ranks included: for agreeing on one rank's
     * value (the others add 0) or counting the ranks that failed, never for rows (see {@link #count}).
     */
    long total(long value);

    /** The smallest per-rank value. */
    long min(long value);

    /** The device mesh these ranks belong to; null for one rank. A family's parallelize step reads it. */
    default DeviceMesh mesh() {
        return null;
    }

    /** One data-parallel rank: every number is already global. */
    static DataParallel single() {
        return new DataParallel() {
            @Override
            public int rank() {
                return 0;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public double sum(double value) {
                return value;
            }

            @Override
            public long count(long value) {
                return value;
            }

            @Override
            public long total(long value) {
                return value;
            }

            @Override
            public long min(long value) {
                return value;
            }
        };
    }

    /**
     * The data-parallel ranks of {@code mesh} (FSDP, HSDP, DDP, with sp and ep): position from its
     * dp_replicate, dp_shard and ep coordinates, reductions by {@code group}, the mesh's
     * {@link DeviceMesh#dataParallelGroup}, whose sums run over every rank. The sp ranks of a row
     * hold equal counts, so the count over every rank is sp times the data-parallel one, exactly.
     */
    static DataParallel over(DeviceMesh mesh, ShardGroup group) {
        int rank = mesh.dataParallelRank();
        int size = mesh.dataParallelSize();
        int sp = mesh.sequenceParallelSize();
        return new DataParallel() {
            @Override
            public DeviceMesh mesh() {
                return mesh;
            }

            @Override
            public int rank() {
                return rank;
            }

            @Override
            public int size() {
                return size;
            }

            @Override
            public double sum(double value) {
                return group.sumAll(value);
            }

            @Override
            public long count(long value) {
                return group.countAll(value) / sp;
            }

            @Override
            public long total(long value) {
                return group.countAll(value);
            }

            @Override
            public long min(long value) {
                return group.minAll(value);
            }
        };
    }
}
