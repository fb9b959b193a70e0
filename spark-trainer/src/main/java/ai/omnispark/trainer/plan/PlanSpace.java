package ai.omnispark.trainer.plan;

import java.util.ArrayList;
import java.util.List;

/**
 * The candidates for a world: every {@code dp_replicate × dp_shard × sp × ep} factorisation of it ×
 * recompute policy × micro-batch size, each with the reason it cannot run (null when it can). Kept
 * rather than dropped so the plan table shows why a layout is out.
 */
public final class PlanSpace {
    /** A candidate and why it cannot run on this model and batch (null: it can). */
    public record Option(PlanCandidate candidate, String refusal) {
        public boolean valid() {
            return refusal == null;
        }
    }

    /** What decides validity beyond the arithmetic: the family's own rules for sp × ep. */
    @FunctionalInterface
    public interface FamilyRules {
        /** Why the family refuses sp × ep, or null. */
        String refusal(int sp, int ep);
    }

    private PlanSpace() {}

    /**
     * @param globalBatch rows per optimizer step (train.global_batch_size), kept fixed across plans:
     *     it must be a multiple of micro-batch × data-parallel ranks, as the trainer requires
     */
    public static List<Option> enumerate(int world, int globalBatch, List<Integer> microBatches,
            List<RecomputePolicy> policies, FamilyRules rules) {
        if (world < 1) {
            throw new IllegalArgumentException("--world must be >= 1, got " + world);
        }
        List<Option> out = new ArrayList<>();
        for (int replicate : divisors(world)) {
            for (int shard : divisors(world / replicate)) {
                for (int sp : divisors(world / replicate / shard)) {
                    int ep = world / replicate / shard / sp;
                    String familyRefusal = rules.refusal(sp, ep);
                    for (RecomputePolicy policy : policies) {
                        for (int micro : microBatches) {
                            PlanCandidate c = new PlanCandidate(replicate, shard, sp, ep, policy, micro);
                            out.add(new Option(c, familyRefusal != null ? familyRefusal : batchRefusal(c, globalBatch)));
                        }
                    }
                }
            }
        }
        return out;
    }

    private static String batchRefusal(PlanCandidate c, int globalBatch) {
        long perStep = (long) c.microBatch() * c.dataParallelSize();
        if (globalBatch % perStep != 0) {
            return "train.global_batch_size " + globalBatch + " is not a multiple of micro-batch " + c.microBatch()
                    + " x " + c.dataParallelSize() + " data-parallel ranks";
        }
        return null;
    }

    /** The divisors of n, ascending. */
    static List<Integer> divisors(int n) {
        List<Integer> d = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            if (n % i == 0) {
                d.add(i);
            }
        }
        return d;
    }
}
