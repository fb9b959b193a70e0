package ai.omnispark.trainer.plan;

/**
 * One point of the search: the mesh sizes {@code dp_replicate × dp_shard × sp × ep}, the recompute
 * policy and the rows per micro-batch on a rank.
 */
public record PlanCandidate(int replicate, int shard, int sp, int ep, RecomputePolicy recompute, int microBatch) {
    public PlanCandidate {
        if (replicate < 1 || shard < 1 || sp < 1 || ep < 1 || microBatch < 1) {
            throw new IllegalArgumentException("plan sizes must be >= 1: replicate " + replicate + ", shard " + shard
                    + ", sp " + sp + ", ep " + ep + ", micro-batch " + microBatch);
        }
    }

    public int world() {
        return replicate * shard * sp * ep;
    }

    /** Ranks reading rows of their own (Ulysses ranks share theirs): replicate × shard × ep. */
    public int dataParallelSize() {
        return replicate * shard * ep;
    }

    /** Ranks every non-expert unit is sharded over: dp_shard × sp × ep (docs/mesh.md). */
    public int denseShardSize() {
        return shard * sp * ep;
    }

    /** Ranks each expert unit is sharded over once split across ep: dp_shard × sp. */
    public int expertShardSize() {
        return shard * sp;
    }

    /** As the table prints it, e.g. {@code r1 s2 sp2 ep1 block mb2}. */
    public String label() {
        return "r" + replicate + " s" + shard + " sp" + sp + " ep" + ep + " " + recompute.label() + " mb" + microBatch;
    }
}
