package ai.omnispark.trainer.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProfileCostsTest {
    @TempDir
    Path dir;


    private HardwareProfile profile(String extra) throws Exception {
        Path f = dir.resolve("hw.json");
        Files.writeString(f, """
                {"name": "test", "peak_flops": {"bf16": 1e12, "fp32": 1e11}, "memory_gb": 1, "devices_per_node": 2,
                 "intra_node_gb_per_s": 100, "inter_node_gb_per_s": 10, "train_dtype": "bf16", "mfu": 0.5 %s}
                """.formatted(extra));
        return HardwareProfile.load(f);
    }

    @Test
    void computeCommAndActivationsFollowTheFormulasWorkedByHand() throws Exception {
        HardwareProfile hw = profile(", \"comm_overlap\": 0");
        Path config = PlanSpaceTest.MODELS.resolve("tiny-qwen3.json");
        try (Model m = ModelFamilies.load(config, ModelOptions.defaults())) {
            ModelShape shape = ModelShape.of(ModelFamilies.readConfig(config), m.units());
            long params = m.parameterCount();
            assertEquals(params, shape.denseParams(), "a dense model: every parameter is dense");
            int seq = 256;
            int global = 4;
            ProfileCosts costs = new ProfileCosts(m.units(), shape, hw, global, seq);
            // one rank, micro-batch 2: two micro-batches of 512 tokens, no communication
            Estimate one = costs.estimate(new PlanCandidate(1, 1, 1, 1, RecomputePolicy.NONE, 2));
            double flopsPerToken = 6.0 * params + 6.0 * 4 * seq * 4 * 32; // 4 layers, 4 heads of 32
            assertEquals(2 * 512 * flopsPerToken / (1e12 * 0.5) * 1000, one.computeMs(), 1e-9);
            assertEquals(0, one.commMs(), 1e-12);
            // per token and layer: 4*128 + 2*4*32 + 2*2*32 + 3*384 elements of 2 bytes
            assertEquals((long) (512.0 * 4 * (512 + 256 + 128 + 1152) * 2), one.activationBytes());
            // two shards in one node, micro-batch 1 (two micro-batches per step over 2 ranks... 4 / (1 x 2) = 2):
            // gathers forward and backward in bf16 and the reduce-scatter in fp32 of half the units, at 100 GB/s
            Estimate two = costs.estimate(new PlanCandidate(1, 2, 1, 1, RecomputePolicy.NONE, 1));
            double fsdpPerMicroMs = params * (2 * 2 + 4) * 0.5 / 100e9 * 1000;
            assertEquals(2 * fsdpPerMicroMs, two.commMs(), 1e-9);
            assertEquals(2 * 256 * flopsPerToken / (1e12 * 0.5) * 1000, two.computeMs(), 1e-9);
        }
    }

    @Test
    void aProfileLackingAFieldOrWithAnUnknownDtypeIsRefusedNamingIt() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> profile(""));
        assertTrue(e.getMessage().contains("lacks 'comm_overlap'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> profile(", \"comm_overlap\": 0.5, \"train_dtype\": \"fp8\""));
        assertTrue(e.getMessage().contains("train_dtype fp8 has no peak_flops entry"), e.getMessage());
    }

    @Test
    void theShippedProfilesLoad() throws Exception {
        for (String name : new String[] {"h100-sxm-node.json", "h200-node.json"}) {
            HardwareProfile p = HardwareProfile.load(Path.of("..", "conf", "hardware", name));
            assertEquals(0.989e15, p.trainPeakFlops(), 1e12, name);
            assertEquals(8, p.devicesPerNode());
        }
    }
}
