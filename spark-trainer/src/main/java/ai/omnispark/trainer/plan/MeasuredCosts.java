package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;

/**
 * Costs on this machine, from measurements: the micro-batch shape's activation bytes and step time
 * on sp × ep ranks ({@link ShapeCosts}: the sp and ep exchanges run for real), times the
 * micro-batches a step takes, times how much slower a rank runs when the planned world shares this
 * host than when sp × ep ranks do ({@link #shareOf}; measured per data-parallel replicate size and
 * micro-batch size: a step of one rank among world data-parallel ranks over one among the anchor ranks,
 * same shape, the world as the plan splits it into replicas (replicate 4 all-reduces every gradient
 * where shard 4 reduce-scatters: the medium LLM ran 11-23 % slower so); it holds the FSDP traffic
 * of the in-process transport, which is memory copies on the same cores, and since that traffic is per
 * micro-batch while compute is per row, a smaller micro-batch shares worse: the tiny MoE at 4 ranks ran
 * x2.28 its 2-rank step at micro-batch 1 and x1.72 at 2). State bytes are exact
 * ({@link StateMemory}); on sharded layouts the gathered weights the graph keeps for backward
 * ({@link LayoutCheck#usedUnits}) are added to a shape measured on one rank, where weights are not
 * gathered and so not among its activations.
 */
public final class MeasuredCosts implements CostModel {
    private final List<UnitLayout> units;
    private final LayoutCheck layouts;
    private final ShapeCosts shapes;
    private final HostShare hostShare;
    private final int world;
    private final int anchorRanks;
    private final int globalBatch;
    private final int seqLen;

    /** One rank's step among the planned world over one among the anchor ranks, measured. */
    @FunctionalInterface
    public interface HostShare {
        /** @param replicate the data-parallel replicas the world is split into (1: all sharded) */
        double of(int replicate, int microBatch);
    }

    /**
     * @param hostShare by replicate and micro-batch size, one rank's step among {@code world} over one rank's among
     *     {@code anchorRanks}, measured
     * @param anchorRanks the ranks the host share is relative to (those the sp = ep = 1 shapes ran on)
     */
    public MeasuredCosts(List<UnitLayout> units, LayoutCheck layouts, ShapeCosts shapes, HostShare hostShare,
            int anchorRanks, int world, int globalBatch, int seqLen) {
        this.anchorRanks = anchorRanks;
        this.units = units;
        this.layouts = layouts;
        this.shapes = shapes;
        this.hostShare = hostShare;
        this.world = world;
        this.globalBatch = globalBatch;
        this.seqLen = seqLen;
    }

    /**
     * How much slower a rank among {@code ranks} runs micro-batches of {@code microBatch} rows than one
     * among the anchor ranks: 1 up to them, the share measured at the planned world split into
     * {@code replicate} replicas, linear between (ranks beyond the cores share them in proportion).
     */
    double shareOf(int ranks, int replicate, int microBatch) {
        return ranks <= anchorRanks || world <= anchorRanks ? 1
                : 1 + (hostShare.of(replicate, microBatch) - 1) * (ranks - anchorRanks) / (world - anchorRanks);
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
        // Measured on sp x ep > 1 ranks, the activations hold the gathered weights the graph keeps
        // (whole units, whatever the shard count); measured on one rank they do not: add them.
        long gather = c.denseShardSize() > 1 && shape.ranks() == 1
                ? state.graphHeldBytes() + state.largestUnitBytes() : 0;
        // the shapes ran on unreplicated layouts: their own share is the sharded one
        double compute = accumulation * shape.stepMs() * shareOf(c.world(), c.replicate(), c.microBatch())
                / shareOf(shape.ranks(), 1, c.microBatch());
        return new Estimate(c, state, shape.activationBytes(), gather, compute, 0, (long) globalBatch * seqLen);
    }
}
