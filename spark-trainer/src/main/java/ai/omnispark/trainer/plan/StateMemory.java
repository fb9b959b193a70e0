package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.mesh.MeshDims;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;

/**
 * The bytes of model state the fullest rank of a plan holds, counted exactly as the stores place
 * them (ParamStores / FsdpParams / PartitionedParams, fp32): a unit every rank uses is padded to a
 * multiple of its shard group and split evenly over dp_shard × sp × ep; an expert unit
 * ({@link UnitLayout.Partition} across ep) is held only by its ep coordinate and split over
 * dp_shard × sp. Per element of a rank's shard: the weight (4 B), and for a trainable unit its
 * gradient (4 B), AdamW's two moments (8 B) and the weight-decay mask (4 B). The first three are
 * what {@code ParamStore.stateBytes} reports; the mask is held beside them.
 *
 * @param weightBytes weights of the units this rank holds (its shards)
 * @param gradBytes their gradient shards
 * @param optimizerBytes AdamW's exp_avg and exp_avg_sq for them
 * @param maskBytes the decay masks
 * @param largestUnitBytes the largest unit's whole fp32 weights: what one gather materialises
 * @param graphHeldBytes the whole fp32 weights of the sharded units this rank holds whose gathered
 *     copy the autograd graph keeps from forward to backward ({@code LayoutCheck.usedUnits})
 */
public record StateMemory(long weightBytes, long gradBytes, long optimizerBytes, long maskBytes,
        long largestUnitBytes, long graphHeldBytes) {
    static final int FP32 = Float.BYTES;
    /** AdamW keeps exp_avg and exp_avg_sq in the parameter's dtype. */
    static final int ADAM_MOMENTS = 2;

    /** Weights + gradients + optimizer state: what {@code ParamStore.stateBytes} reports for the rank. */
    public long stateBytes() {
        return weightBytes + gradBytes + optimizerBytes;
    }

    /** Everything this record counts. */
    public long totalBytes() {
        return stateBytes() + maskBytes;
    }

    /** The fullest rank's state for {@code c}, no gathered weights kept by a graph. */
    public static StateMemory of(List<UnitLayout> units, PlanCandidate c) {
        return of(units, c, java.util.Set.of());
    }

    /** The fullest rank's state for {@code c}; {@code keptByGraph}: the units whose gathered weights live until backward. */
    public static StateMemory of(List<UnitLayout> units, PlanCandidate c, java.util.Set<String> keptByGraph) {
        // Expert units can land unevenly on ep coordinates only if counts are uneven; take the fullest.
        long best = -1;
        StateMemory fullest = null;
        for (int coord = 0; coord < c.ep(); coord++) {
            StateMemory m = onEpCoordinate(units, c, coord, keptByGraph);
            if (m.totalBytes() + m.graphHeldBytes() > best) {
                best = m.totalBytes() + m.graphHeldBytes();
                fullest = m;
            }
        }
        return fullest;
    }

    private static StateMemory onEpCoordinate(List<UnitLayout> units, PlanCandidate c, int coord,
            java.util.Set<String> keptByGraph) {
        long held = 0;
        long weights = 0;
        long grads = 0;
        long optimizer = 0;
        long masks = 0;
        long largest = 0;
        for (UnitLayout u : units) {
            largest = Math.max(largest, u.numel() * FP32);
            UnitLayout.Partition part = u.partition();
            long groupSize;
            if (part != null && part.dim().equals(MeshDims.EP)) {
                if (part.holder(c.ep()) != coord) {
                    continue;
                }
                groupSize = c.expertShardSize();
            } else {
                groupSize = c.denseShardSize();
            }
            long shardLen = (u.numel() + groupSize - 1) / groupSize;
            if (groupSize > 1 && keptByGraph.contains(u.name())) {
                held += u.numel() * FP32;
            }
            weights += shardLen * FP32;
            if (!u.frozen()) {
                grads += shardLen * FP32;
                optimizer += shardLen * FP32 * ADAM_MOMENTS;
                masks += shardLen * FP32;
            }
        }
        return new StateMemory(weights, grads, optimizer, masks, largest, held);
    }
}
