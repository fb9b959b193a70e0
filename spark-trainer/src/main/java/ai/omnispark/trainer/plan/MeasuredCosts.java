package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;

/**
 * Costs on this machine, from measurements: the per-rank micro-batch shape's activation bytes and
 * step time from one rank alone ({@link ShapeCosts}), times the micro-batches a step takes, times
 * how much slower a rank runs when {@code world} ranks share this host ({@code hostShare}: measured
 * step time of one rank among world / of one rank alone, same shape; it holds the FSDP traffic of
 * the in-process transport, which is memory copies on the same cores). State bytes are exact
 * ({@link StateMemory}); on sharded layouts the gathered weights the graph keeps for backward are
 * added (measured at one rank, where weights are not gathered, they are not in the activations).
 */
public final class MeasuredCosts implements CostModel {
    private final List<UnitLayout> units;
    private final LayoutCheck layouts;
    private final ShapeCosts shapes;
    private final double hostShare;
    private final int globalBatch;
    private final int seqLen;

    public MeasuredCosts(List<UnitLayout> units, LayoutCheck layouts, ShapeCosts shapes, double hostShare,
            int globalBatch, int seqLen) {
        this.units = units;
        this.layouts = layouts;
        this.shapes = shapes;
        this.hostShare = hostShare;
        this.globalBatch = globalBatch;
        this.seqLen = seqLen;
    }

    @Override
    public Estimate estimate(PlanCandidate c) {
        StateMemory state = StateMemory.of(units, c, layouts.keptByGraph(c.sp(), c.ep(), c.recompute()));
        ShapeCosts.Cost shape = shapes.cost(c.microBatch(), seqLen / c.sp(), c.recompute());
        int accumulation = globalBatch / (c.microBatch() * c.dataParallelSize());
        // the gathered weights the graph keeps, plus the one unit in flight while a recomputed one runs
        long gather = state.graphHeldBytes() + (c.denseShardSize() > 1 ? state.largestUnitBytes() : 0);
        double compute = accumulation * shape.stepMs() * hostShare;
        return new Estimate(c, state, shape.activationBytes(), gather, compute, 0, (long) globalBatch * seqLen);
    }
}
