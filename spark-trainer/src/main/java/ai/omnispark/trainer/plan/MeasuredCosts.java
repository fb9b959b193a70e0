package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;

/**
 * Costs on this machine, from measurements: the micro-batch shape's activation bytes and step time
 * on the planned world's ranks ({@link ShapeCosts}: world / (sp × ep) groups side by side, the sp and
 * ep exchanges and the FSDP traffic run for real, all data-parallel ranks sharded), times the
 * micro-batches a step takes, times the replicas' factor of the plan's replicate size ({@link ReplicaFactor}:
 * the dp-only step split into that many replicas over the same all sharded). State bytes are exact
 * ({@link StateMemory}); on sharded layouts the gathered weights the graph keeps for backward
 * ({@link LayoutCheck#usedUnits}) are added to a shape measured on one rank, where weights are not
 * gathered and so not among its activations.
 */
public final class MeasuredCosts implements CostModel {
    private final List<UnitLayout> units;
    private final LayoutCheck layouts;
    private final ShapeCosts shapes;
    private final ReplicaFactor replicas;
    private final int globalBatch;
    private final int seqLen;

    /** How much slower the planned world runs split into replicas than all sharded, measured. */
    @FunctionalInterface
    public interface ReplicaFactor {
        /** @param replicate the data-parallel replicas the world is split into (1: all sharded, factor 1) */
        double of(int replicate, int microBatch);
    }

    public MeasuredCosts(List<UnitLayout> units, LayoutCheck layouts, ShapeCosts shapes, ReplicaFactor replicas,
            int globalBatch, int seqLen) {
        this.units = units;
        this.layouts = layouts;
        this.shapes = shapes;
        this.replicas = replicas;
        this.globalBatch = globalBatch;
        this.seqLen = seqLen;
    }

    @Override
    public Estimate estimate(PlanCandidate c) {
        StateMemory state = StateMemory.of(units, c, layouts.usedUnits(c.sp(), c.ep()));
        ShapeCosts.Cost shape = shapes.cost(c.microBatch(), c.sp(), c.ep(), c.recompute());
        if (c.recompute() == RecomputePolicy.BLOCK) {
            // Recompute does all that none does and more: a block step measured faster than none's on
            // the same shape is the machine's noise (a 100 ms step of a tiny model moves by tens of
            // ms), and ranking on it would pick recompute for nothing. None's step is the floor.
            ShapeCosts.Cost none = shapes.cost(c.microBatch(), c.sp(), c.ep(), RecomputePolicy.NONE);
            if (none != null && shape.stepMs() < none.stepMs()) {
                shape = new ShapeCosts.Cost(shape.activationBytes(), none.stepMs(), shape.ranks());
            }
        }
        int accumulation = globalBatch / (c.microBatch() * c.dataParallelSize());
        // Measured on several ranks, the activations hold the gathered weights the graph keeps (whole
        // units, whatever the shard count); measured on one rank they do not: add them.
        long gather = c.denseShardSize() > 1 && shape.ranks() == 1
                ? state.graphHeldBytes() + state.largestUnitBytes() : 0;
        double compute = accumulation * shape.stepMs() * replicas.of(c.replicate(), c.microBatch());
        return new Estimate(c, state, shape.activationBytes(), gather, compute, 0, (long) globalBatch * seqLen);
    }
}
