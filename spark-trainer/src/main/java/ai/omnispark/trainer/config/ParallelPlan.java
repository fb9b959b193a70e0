package ai.omnispark.trainer.config;

/**
 * How the ranks split the work: {@code replicate × shard × sp × ep = world}, laid out on the mesh
 * dims {@code dp_replicate × dp_shard × sp × ep} ({@link #mesh}, docs/mesh.md). FSDP shards every
 * non-expert unit over dp_shard × sp × ep and each expert over dp_shard × sp; HSDP adds replicas;
 * DDP is a shard group of one (every rank holds everything and gradients are summed over all);
 * none is a single rank. Ulysses (sp) ranks share their rows; expert-parallel (ep) ranks are
 * data-parallel ranks with rows of their own. The checkpoint fingerprint records the resolved
 * sizes, not the keys as written (sp and ep are not fingerprinted: they change world_size or
 * shard_size, which are, and a checkpoint reshards across them).
 */
public record ParallelPlan(
        @Fingerprint("train.data_parallel_mode") Mode mode,
        @Fingerprint("train.world_size") int worldSize,
        @Fingerprint("train.data_parallel_shard_size") int shardSize,
        @Fingerprint("train.data_parallel_replicate_size") int replicateSize,
        int spSize,
        int epSize,
        boolean fullShard) {
    public enum Mode { FSDP, DDP, NONE }

    public static ParallelPlan from(Settings s) {
        return from(JobConfig.from(s).train());
    }

    /** The plan {@code train}'s parallel keys describe, checked against each other. */
    public static ParallelPlan from(TrainSection train) {
        if (train.autoParallelPlan()) {
            throw new ConfigException("train.parallel_plan is auto, which bin/omnispark train resolves at launch "
                    + "(it runs the planner and writes the chosen sizes); here the sizes must be given: set "
                    + "train.parallel_plan=manual, or launch through bin/omnispark train");
        }
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
        int sp = train.ulyssesParallelSize();
        int ep = train.expertParallelSize();
        if (mode != Mode.FSDP && (sp > 1 || ep > 1)) {
            throw new ConfigException("train.data_parallel_mode " + mode.name().toLowerCase() + " runs without "
                    + "sequence or expert parallelism, but ulysses size is " + sp + " and expert-parallel size " + ep
                    + "; use data_parallel_mode fsdp");
        }
        switch (mode) {
            case NONE -> {
                if (world != 1) {
                    throw new ConfigException("train.data_parallel_mode none runs one rank, but train.world_size is "
                            + world);
                }
                return new ParallelPlan(mode, 1, 1, 1, 1, 1, false);
            }
            case DDP -> {
                return new ParallelPlan(mode, world, 1, world, 1, 1, false);
            }
            default -> {
                if ((long) sp * ep > world || world % ((long) sp * ep) != 0) {
                    throw new ConfigException("train.world_size (" + world + ") is not divisible by ulysses size ("
                            + sp + ") x expert-parallel size (" + ep + ")");
                }
                int dataRanks = world / (sp * ep);
                if (replicate < 1) {
                    throw new ConfigException("train.data_parallel_replicate_size must be >= 1, got " + replicate);
                }
                if (shard == 0) {
                    if (dataRanks % replicate != 0) {
                        throw new ConfigException("train.world_size / (ulysses size x expert-parallel size) = "
                                + dataRanks + " is not divisible by train.data_parallel_replicate_size (" + replicate
                                + ")");
                    }
                    shard = dataRanks / replicate;
                }
                if (shard < 1 || (long) shard * replicate * sp * ep != world) {
                    throw new ConfigException("train.data_parallel_shard_size (" + shard + ") x "
                            + "train.data_parallel_replicate_size (" + replicate + ") x ulysses size (" + sp
                            + ") x expert-parallel size (" + ep + ") must equal train.world_size (" + world + ")");
                }
                return new ParallelPlan(mode, world, shard, replicate, sp, ep, train.enableFullShard());
            }
        }
    }

    /**
     * The ranks that read rows of their own: replicate x shard x ep (the sp ranks of a row share it),
     * what the global batch is split over.
     */
    public int dataParallelSize() {
        return worldSize / spSize;
    }

    /**
     * The ranks laid out as this plan says: dp_replicate × dp_shard × sp × ep (the mesh then gives
     * each rank its data-parallel position and groups).
     */
    public ai.omnispark.parallel.mesh.DeviceMesh mesh(ai.omnispark.parallel.comm.Communicator world) {
        return ai.omnispark.parallel.mesh.DeviceMesh.of(world, replicateSize, shardSize, spSize, epSize);
    }
}
