package ai.omnispark.trainer.config;

/**
 * How the ranks split the work: {@code replicate × shard = world}. FSDP shards every unit over the
 * shard group; HSDP adds replicas; DDP is a shard group of one (every rank holds everything and
 * gradients are summed over all); none is a single rank. Rank {@code r} has shard index
 * {@code r % shard} and replica index {@code r / shard} ({@link #mesh}). The checkpoint fingerprint records the
 * resolved sizes, not the keys as written.
 */
public record ParallelPlan(
        @Fingerprint("train.data_parallel_mode") Mode mode,
        @Fingerprint("train.world_size") int worldSize,
        @Fingerprint("train.data_parallel_shard_size") int shardSize,
        @Fingerprint("train.data_parallel_replicate_size") int replicateSize,
        boolean fullShard) {
    public enum Mode { FSDP, DDP, NONE }

    public static ParallelPlan from(Settings s) {
        return from(JobConfig.from(s).train());
    }

    /** The plan {@code train}'s parallel keys describe, checked against each other. */
    public static ParallelPlan from(TrainSection train) {
        int world = train.worldSize();
        if (world < 1) {
            throw new ConfigException("train.world_size must be >= 1, got " + world);
        }
        Mode mode = train.dataParallelMode();
        if (train.enableMixedPrecision()) {
            throw new ConfigException("train.enable_mixed_precision is not implemented yet: training runs in fp32 "
                    + "on CPUs and GPUs alike, so leave it false");
        }
        int replicate = train.dataParallelReplicateSize();
        int shard = train.dataParallelShardSize();
        switch (mode) {
            case NONE -> {
                if (world != 1) {
                    throw new ConfigException("train.data_parallel_mode none runs one rank, but train.world_size is "
                            + world);
                }
                return new ParallelPlan(mode, 1, 1, 1, false);
            }
            case DDP -> {
                return new ParallelPlan(mode, world, 1, world, false);
            }
            default -> {
                if (replicate < 1) {
                    throw new ConfigException("train.data_parallel_replicate_size must be >= 1, got " + replicate);
                }
                if (shard == 0) {
                    if (world % replicate != 0) {
                        throw new ConfigException("train.world_size (" + world + ") is not divisible by "
                                + "train.data_parallel_replicate_size (" + replicate + ")");
                    }
                    shard = world / replicate;
                }
                if (shard < 1 || (long) shard * replicate != world) {
                    throw new ConfigException("train.data_parallel_shard_size (" + shard + ") x "
                            + "train.data_parallel_replicate_size (" + replicate + ") must equal train.world_size ("
                            + world + ")");
                }
                return new ParallelPlan(mode, world, shard, replicate, train.enableFullShard());
            }
        }
    }

    /**
     * The ranks laid out as this plan says: dp_replicate = replicate size, dp_shard = shard size,
     * sp = ep = 1 (the mesh then gives each rank its data-parallel position and groups).
     */
    public ai.omnispark.parallel.mesh.DeviceMesh mesh(ai.omnispark.parallel.comm.Communicator world) {
        return ai.omnispark.parallel.mesh.DeviceMesh.dataParallel(world, replicateSize, shardSize);
    }
}
