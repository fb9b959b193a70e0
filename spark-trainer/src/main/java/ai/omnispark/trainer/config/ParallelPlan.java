package ai.omnispark.trainer.config;

/**
 * How the ranks split the work: {@code replicate × shard = world}. FSDP shards every unit over the
 * shard group; HSDP adds replicas; DDP is a shard group of one (every rank holds everything and
 * gradients are summed over all); none is a single rank. Rank {@code r} has shard index
 * {@code r % shard} and replica index {@code r / shard} ({@link #mesh}).
 */
public record ParallelPlan(Mode mode, int worldSize, int shardSize, int replicateSize, boolean fullShard) {
    public enum Mode { FSDP, DDP, NONE }

    /**
     * {@code train.comm_transport} as the comm layer's enum: {@code unix} and {@code tcp} are both
     * the socket transport, told apart by {@link #localSockets}.
     */
    public static ai.omnispark.parallel.comm.Transport transport(Settings s) {
        String t = s.string("train.comm_transport");
        return switch (t) {
            case "auto" -> ai.omnispark.parallel.comm.Transport.AUTO;
            case "in_process" -> ai.omnispark.parallel.comm.Transport.IN_PROCESS;
            case "unix", "tcp" -> ai.omnispark.parallel.comm.Transport.TCP;
            default -> throw new ConfigException("train.comm_transport must be auto, in_process, unix or tcp, got '"
                    + t + "'");
        };
    }

    /** Whether same-host ranks in different JVMs use Unix domain sockets: all but {@code tcp}. */
    public static boolean localSockets(Settings s) {
        transport(s);
        return !"tcp".equals(s.string("train.comm_transport"));
    }

    public static ParallelPlan from(Settings s) {
        int world = s.intValue("train.world_size");
        if (world < 1) {
            throw new ConfigException("train.world_size must be >= 1, got " + world);
        }
        CommOptions.from(s); // every train.comm_* key checked before anything launches
        String modeName = s.string("train.data_parallel_mode");
        Mode mode;
        switch (modeName) {
            case "fsdp" -> mode = Mode.FSDP;
            case "ddp" -> mode = Mode.DDP;
            case "none" -> mode = Mode.NONE;
            default -> throw new ConfigException("train.data_parallel_mode must be fsdp, ddp or none, got '"
                    + modeName + "'");
        }
        if (s.flag("train.enable_mixed_precision")) {
            throw new ConfigException("train.enable_mixed_precision is not implemented yet: training runs in fp32 "
                    + "on CPUs and GPUs alike, so leave it false");
        }
        int replicate = s.intValue("train.data_parallel_replicate_size");
        int shard = s.intValue("train.data_parallel_shard_size");
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
                return new ParallelPlan(mode, world, shard, replicate, s.flag("train.enable_full_shard"));
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
