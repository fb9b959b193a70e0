package ai.omnispark.trainer.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.parallel.param.UnitLayout;
import org.junit.jupiter.api.Test;

class MeasuredCostsTest {
    @Test
    void stepTimeScalesByMicroBatchesAndHostShareAndOneRankShapesGainTheGatheredWeights() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            // stub measurements: 100 ms and 1000 bytes per row on one rank, 150 ms and 700 bytes per row on sp 2
            ShapeCosts shapes = (micro, sp, ep, policy) -> sp == 1
                    ? new ShapeCosts.Cost(1000L * micro, 100.0 * micro, 1)
                    : new ShapeCosts.Cost(700L * micro, 150.0 * micro, sp * ep);
            // world 4 measured 3x slower per rank than one alone (anchor 1 rank); global batch 8
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), shapes, (replicate, micro) -> replicate == 4 ? 3.6 : 3.0,
                    1, 4, 8, 64);
            long whole = 0;
            long largest = 0;
            for (UnitLayout u : m.units()) {
                whole += u.numel() * 4;
                largest = Math.max(largest, u.numel() * 4);
            }
            // r1 s4, micro-batch 1: 8 / (1 x 4) = 2 micro-batches x 100 ms x share(4) 3 / share(1) 1
            Estimate fsdp = costs.estimate(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.NONE, 1));
            assertEquals(600, fsdp.stepMs(), 1e-9);
            assertEquals(1000, fsdp.activationBytes());
            // every unit's gathered weights stay for backward, plus one in flight, under either policy
            assertEquals(whole + largest, fsdp.gatherBytes());
            assertEquals(whole + largest,
                    costs.estimate(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.BLOCK, 1)).gatherBytes());
            // r4 s1: replicas hold everything whole, nothing gathered; the share measured on 4 replicas
            Estimate ddp = costs.estimate(new PlanCandidate(4, 1, 1, 1, RecomputePolicy.NONE, 1));
            assertEquals(0, ddp.gatherBytes());
            assertEquals(2 * 100 * 3.6, ddp.stepMs(), 1e-9);
            // r1 s2 sp2, micro-batch 2: 8 / (2 x 2) = 2 micro-batches x 300 ms x share(4) 3 / share(2) (1 + 2/3)
            Estimate sp2 = costs.estimate(new PlanCandidate(1, 2, 2, 1, RecomputePolicy.NONE, 2));
            assertEquals(2 * 300 * 3 / (1 + 2.0 / 3), sp2.stepMs(), 1e-9);
            assertEquals(1400, sp2.activationBytes());
            assertEquals(0, sp2.gatherBytes(), "measured on 2 ranks: the probe already counted the gathered weights");
        }
    }

    @Test
    void theShareIsOneUpToTheAnchorRanksAndLinearToTheWorld() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), (a, b, c, d) -> null,
                    (replicate, micro) -> (micro == 1 ? 2.5 : 1.5) + (replicate == 2 ? 0.3 : 0), 2, 8, 8, 64);
            assertEquals(1, costs.shareOf(1, 1, 1), 1e-12);
            assertEquals(1, costs.shareOf(2, 1, 1), 1e-12);
            assertEquals(1.75, costs.shareOf(5, 1, 1), 1e-12); // 1 + 1.5 x 3 / 6
            assertEquals(2.5, costs.shareOf(8, 1, 1), 1e-12);
            assertEquals(1.25, costs.shareOf(5, 1, 2), 1e-12); // the micro-batch's own share: 1 + 0.5 x 3 / 6
            assertEquals(1.5, costs.shareOf(8, 1, 2), 1e-12);
            assertEquals(1.8, costs.shareOf(8, 2, 2), 1e-12); // and the replicas' own
            assertEquals(1, costs.shareOf(2, 2, 2), 1e-12);
        }
    }

    @Test
    void aBlockStepMeasuredFasterThanNoneIsCostedAtNones() throws Exception {
        try (Model m = ModelFamilies.load(PlanSpaceTest.MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults())) {
            // micro-batch 1: block measured (noise) at 80 ms under none's 100; micro-batch 2: block 260 over none's 200
            ShapeCosts shapes = (micro, sp, ep, policy) -> new ShapeCosts.Cost(policy == RecomputePolicy.BLOCK ? 10 : 50,
                    policy == RecomputePolicy.BLOCK ? (micro == 1 ? 80.0 : 260.0) : 100.0 * micro, 1);
            MeasuredCosts costs = new MeasuredCosts(m.units(), new LayoutCheck(m), shapes, (replicate, micro) -> 1.0, 1, 1, 2, 64);
            Estimate block1 = costs.estimate(new PlanCandidate(1, 1, 1, 1, RecomputePolicy.BLOCK, 1));
            assertEquals(2 * 100.0, block1.stepMs(), 1e-9, "2 micro-batches at none's 100 ms");
            assertEquals(10, block1.activationBytes(), "block's own activations");
            assertEquals(260.0, costs.estimate(new PlanCandidate(1, 1, 1, 1, RecomputePolicy.BLOCK, 2)).stepMs(), 1e-9);
        }
    }
}
