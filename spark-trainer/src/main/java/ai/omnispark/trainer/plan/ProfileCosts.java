package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;

/**
 * Costs on a cluster described by a {@link HardwareProfile}, for hardware we cannot measure on:
 * compute from training FLOPs ({@link ModelShape#trainFlopsPerToken}, + one more forward of the
 * blocks under block recompute) at the profile's peak × mfu; communication from the profile's
 * bandwidths: FSDP gathers (forward and backward, in the training dtype) and gradient
 * reduce-scatters (fp32) of every micro-batch, of which {@code comm_overlap} of the compute time
 * hides what it can (the engine prefetches the next unit's gather while one computes), HSDP's
 * all-reduce of the gradient shards once a step, and the Ulysses and expert all-to-alls, which sit
 * on the critical path. Activations are {@link ModelShape#activationElementsPerTokenLayer} in the
 * training dtype (block recompute keeps each block's input and one layer's working set).
 */
public final class ProfileCosts implements CostModel {
    private final List<UnitLayout> units;
    private final ModelShape shape;
    private final HardwareProfile hw;
    private final int globalBatch;
    private final int seqLen;

    public ProfileCosts(List<UnitLayout> units, ModelShape shape, HardwareProfile hw, int globalBatch, int seqLen) {
        this.units = units;
        this.shape = shape;
        this.hw = hw;
        this.globalBatch = globalBatch;
        this.seqLen = seqLen;
    }

    @Override
    public Estimate estimate(PlanCandidate c) {
        StateMemory state = StateMemory.of(units, c);
        int accumulation = globalBatch / (c.microBatch() * c.dataParallelSize());
        double tokens = (double) c.microBatch() * seqLen / c.sp();
        double flops = tokens * shape.trainFlopsPerToken(seqLen);
        if (c.recompute() == RecomputePolicy.BLOCK) {
            flops *= 8.0 / 6.0; // one more forward (2 of the 6 FLOPs per parameter) of the blocks
        }
        double computeS = flops / (hw.trainPeakFlops() * hw.mfu());
        int b = hw.trainDtypeBytes();
        double fsdpS = fsdpSeconds(shape.denseParams(), c.denseShardSize(), b)
                + fsdpSeconds((double) shape.expertParams() / c.ep(), c.expertShardSize(), b);
        double exposedFsdp = Math.max(0, fsdpS - hw.commOverlap() * computeS);
        double a2aS = 0;
        if (c.sp() > 1) {
            // q, k, v before the core and its output after, forward and again backward
            double perLayer = tokens * (2.0 * shape.heads() + 2.0 * shape.kvHeads()) * shape.headDim() * b
                    * (c.sp() - 1) / c.sp();
            a2aS += 2 * shape.layers() * perLayer / hw.bandwidth(c.sp() * c.ep());
        }
        if (c.ep() > 1) {
            // dispatch and combine of each routed copy of a token, forward and backward
            double perLayer = 2 * tokens * shape.topK() * shape.hidden() * b * (c.ep() - 1) / c.ep();
            a2aS += 2 * shape.sparseLayers() * perLayer / hw.bandwidth(c.ep());
        }
        double perMicroMs = (computeS + exposedFsdp + a2aS) * 1000;
        double replicateMs = 0;
        if (c.replicate() > 1) {
            long gradShard = state.gradBytes();
            replicateMs = 2.0 * gradShard * (c.replicate() - 1) / c.replicate()
                    / hw.bandwidth(c.world()) * 1000;
        }
        double computeMs = accumulation * computeS * 1000;
        double commMs = accumulation * perMicroMs - computeMs + replicateMs;
        return new Estimate(c, state, activationBytes(c, tokens, b), c.denseShardSize() > 1
                ? 2 * state.largestUnitBytes() * b / StateMemory.FP32 : 0, computeMs, commMs,
                (long) globalBatch * seqLen);
    }

    /** Gathers forward and backward in the training dtype, the gradient reduce-scatter in fp32. */
    private double fsdpSeconds(double params, int group, int dtypeBytes) {
        if (group <= 1 || params == 0) {
            return 0;
        }
        double share = (double) (group - 1) / group;
        return params * (2.0 * dtypeBytes + StateMemory.FP32) * share / hw.bandwidth(group);
    }

    private long activationBytes(PlanCandidate c, double tokens, int b) {
        int dense = shape.layers() - shape.sparseLayers();
        double perTokenAll = dense * shape.activationElementsPerTokenLayer(false)
                + shape.sparseLayers() * shape.activationElementsPerTokenLayer(true);
        if (c.recompute() == RecomputePolicy.BLOCK) {
            // each block's two segment inputs, plus one layer's working set while it recomputes
            perTokenAll = 2.0 * shape.hidden() * shape.layers()
                    + shape.activationElementsPerTokenLayer(shape.sparseLayers() > 0);
        }
        return (long) (tokens * perTokenAll * b);
    }
}
