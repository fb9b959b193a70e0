package ai.omnispark.parallel.fsdp;

import ai.djl.ndarray.NDArray;

/**
 * A rank's place in a group of {@code size} ranks with no peers behind it: for tests that build and
 * step a sharded store on one rank. Every collective throws, so a test that reaches one fails.
 */
public final class SilentShardGroup implements ShardGroup {
    private final int rank;
    private final int size;

    public SilentShardGroup(int rank, int size) {
        this.rank = rank;
        this.size = size;
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
    public Pending allGather(NDArray shard, NDArray full) {
        throw new UnsupportedOperationException("no peers: allGather");
    }

    @Override
    public Pending reduceScatterSum(NDArray full, NDArray shard) {
        throw new UnsupportedOperationException("no peers: reduceScatterSum");
    }

    @Override
    public double sumAll(double value) {
        throw new UnsupportedOperationException("no peers: sumAll");
    }

    @Override
    public double sumShards(double value) {
        throw new UnsupportedOperationException("no peers: sumShards");
    }

    @Override
    public long countAll(long count) {
        throw new UnsupportedOperationException("no peers: countAll");
    }

    @Override
    public long minAll(long value) {
        throw new UnsupportedOperationException("no peers: minAll");
    }
}
