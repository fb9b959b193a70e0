package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.ReduceOp;
import ai.omnispark.parallel.comm.Work;

/**
 * FSDP's collectives on communicators: gathers and reduce-scatters over the shard group, then
 * (HSDP) sums the reduced shard over the replicas. Plain FSDP has one replica; DDP is one rank per
 * shard group and every rank a replica.
 *
 * <p>All three communicators must be split from one parent, so that their ops run in issue order
 * on one comm thread: that is what lets the replica all-reduce be queued right behind the
 * reduce-scatter it depends on.
 */
public final class CommShardGroup implements ShardGroup {
    private final Communicator shard;
    private final Communicator replicate;
    private final Communicator world;
    private final NDManager manager;

    public CommShardGroup(Communicator shard, Communicator replicate, Communicator world, NDManager parent) {
        if (shard.size() * replicate.size() != world.size()) {
            throw new IllegalArgumentException("shard group of " + shard.size() + " x " + replicate.size()
                    + " replicas does not cover the world of " + world.size());
        }
        this.shard = shard;
        this.replicate = replicate;
        this.world = world;
        this.manager = parent.newSubManager();
    }

    @Override
    public int rank() {
        return shard.rank();
    }

    @Override
    public int size() {
        return shard.size();
    }

    @Override
    public Pending allGather(NDArray shardArray, NDArray full) {
        Work w = shard.allGather(shardArray, full);
        return w::await;
    }

    @Override
    public Pending reduceScatterSum(NDArray full, NDArray shardArray) {
        Work rs = shard.reduceScatter(full, shardArray, ReduceOp.SUM);
        if (replicate.size() == 1) {
            return rs::await;
        }
        // Queued behind the reduce-scatter on the same comm thread, so it sums the reduced shard.
        Work ar = replicate.allReduce(shardArray, ReduceOp.SUM);
        return () -> {
            rs.await();
            ar.await();
        };
    }

    /**
     * Sums over every rank in float32, the widest floating type the transports reduce: loss and norm
     * sums to about 1e-7 relative. Counts go through {@link #countAll}, exact in 64-bit integers.
     */
    @Override
    public double sumAll(double value) {
        return sum(world, value);
    }

    @Override
    public double sumShards(double value) {
        return sum(shard, value);
    }

    @Override
    public long countAll(long count) {
        return reduce(world, count, ReduceOp.SUM);
    }

    /** The transports have no MIN: the minimum is minus the maximum of the negated values. */
    @Override
    public long minAll(long value) {
        if (value == Long.MIN_VALUE) {
            throw new IllegalArgumentException("minAll takes values above Long.MIN_VALUE, got " + value);
        }
        return -reduce(world, -value, ReduceOp.MAX);
    }

    private long reduce(Communicator over, long value, ReduceOp op) {
        if (over.size() == 1) {
            return value;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = tmp.create(new long[] {value});
            over.allReduce(a, op).await();
            return a.getLong(0);
        }
    }

    private double sum(Communicator over, double value) {
        if (over.size() == 1) {
            return value;
        }
        try (NDManager tmp = manager.newSubManager()) {
            NDArray a = tmp.create(new float[] {(float) value});
            over.allReduce(a, ReduceOp.SUM).await();
            return a.getFloat(0);
        }
    }
}
