package ai.omnispark.parallel.mesh;

import java.util.List;

/**
 * The names of the mesh dimensions the trainer lays ranks out on, slowest-varying first: data-parallel
 * replicas (HSDP's replicate groups, DDP), data-parallel shards (FSDP), sequence parallel (Ulysses)
 * and expert parallel. sp and ep have size 1 until their implementations land.
 */
public final class MeshDims {
    public static final String DP_REPLICATE = "dp_replicate";
    public static final String DP_SHARD = "dp_shard";
    public static final String SP = "sp";
    public static final String EP = "ep";

    /** Every dimension in mesh order (row-major: the last varies fastest). */
    public static final List<String> ALL = List.of(DP_REPLICATE, DP_SHARD, SP, EP);

    private MeshDims() {}
}
