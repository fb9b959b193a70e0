package ai.omnispark.trainer.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.parallel.param.UnitLayout;
import org.junit.jupiter.api.Test;

class MeasuredCostsTest {
    @Test
    void stepTimeScalesByMicroBatchesAndTheReplicasFactor() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            // stub measurements on the 4 ranks of the world: 100 ms and 1000 bytes per row with sp 1,
            // 150 ms and 700 bytes per row with sp 2; 4 replicas run x1.2 the all-sharded step, 2 x1.1
            ShapeCosts shapes = (micro, sp, ep, policy) -> sp == 1
                    ? new ShapeCosts.Cost(1000L * micro, 100.0 * micro, 4)
                    : new ShapeCosts.Cost(700L * micro, 150.0 * micro, 4);
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), shapes,
                    (replicate, micro) -> replicate == 4 ? 1.2 : replicate == 2 ? 1.1 : 1.0, 8, 64);
            // r1 s4, micro-batch 1: 8 / (1 x 4) = 2 micro-batches x 100 ms, all sharded
            Estimate fsdp = costs.estimate(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.NONE, 1));
            assertEquals(200, fsdp.stepMs(), 1e-9);
            assertEquals(1000, fsdp.activationBytes());
            assertEquals(0, fsdp.gatherBytes(), "measured on the world's ranks: the probe counted the gathered weights");
            // r4 s1: the same shape x 1.2; r2 s2 x 1.1
            assertEquals(2 * 100 * 1.2, costs.estimate(new PlanCandidate(4, 1, 1, 1, RecomputePolicy.NONE, 1))
                    .stepMs(), 1e-9);
            assertEquals(2 * 100 * 1.1, costs.estimate(new PlanCandidate(2, 2, 1, 1, RecomputePolicy.NONE, 1))
                    .stepMs(), 1e-9);
            // r1 s2 sp2, micro-batch 2: 8 / (2 x 2) = 2 micro-batches x 300 ms
            Estimate sp2 = costs.estimate(new PlanCandidate(1, 2, 2, 1, RecomputePolicy.NONE, 2));
            assertEquals(2 * 300, sp2.stepMs(), 1e-9);
            assertEquals(1400, sp2.activationBytes());
        }
    }

    @Test
    void aShapeMeasuredOnOneRankGainsTheGatheredWeightsOfASharded() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            ShapeCosts shapes = (micro, sp, ep, policy) -> new ShapeCosts.Cost(1000L * micro, 100.0 * micro, 1);
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), shapes, (r, micro) -> 1.0, 8, 64);
            long whole = 0;
            long largest = 0;
            for (UnitLayout u : m.units()) {
                whole += u.numel() * 4;
                largest = Math.max(largest, u.numel() * 4);
            }
            // every unit's gathered weights stay for backward, plus one in flight, under either policy
            assertEquals(whole + largest,
                    costs.estimate(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.NONE, 1)).gatherBytes());
            assertEquals(whole + largest,
                    costs.estimate(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.BLOCK, 1)).gatherBytes());
            // replicas hold everything whole, nothing gathered
            assertEquals(0, costs.estimate(new PlanCandidate(4, 1, 1, 1, RecomputePolicy.NONE, 1)).gatherBytes());
        }
    }

    @Test
    void aBlockStepMeasuredFasterThanNoneIsCostedAtNones() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            // micro-batch 1: block measured (noise) at 80 ms under none's 100; micro-batch 2: block 260 over none's 200
            ShapeCosts shapes = (micro, sp, ep, policy) -> new ShapeCosts.Cost(policy == RecomputePolicy.BLOCK ? 10 : 50,
                    policy == RecomputePolicy.BLOCK ? (micro == 1 ? 80.0 : 260.0) : 100.0 * micro, 1);
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), shapes, (r, micro) -> 1.0, 2, 64);
            Estimate block1 = costs.estimate(new PlanCandidate(1, 1, 1, 1, RecomputePolicy.BLOCK, 1));
            assertEquals(2 * 100.0, block1.stepMs(), 1e-9, "2 micro-batches at none's 100 ms");
            assertEquals(10, block1.activationBytes(), "block's own activations");
            assertEquals(260.0, costs.estimate(new PlanCandidate(1, 1, 1, 1, RecomputePolicy.BLOCK, 2)).stepMs(), 1e-9);
        }
    }
}
