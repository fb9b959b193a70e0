package ai.omnispark.trainer.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PlanSpaceTest {
    static final Path MODELS = Path.of("..", "conf", "models");

    @Test
    void worldFourHasTheTenFactorisationsWrittenOutByHand() {
        List<PlanSpace.Option> all = PlanSpace.enumerate(4, 4, List.of(1), List.of(RecomputePolicy.NONE),
                (sp, ep) -> null);
        // replicate x shard x sp x ep = 4, listed by hand
        Set<String> want = Set.of("1 1 1 4", "1 1 2 2", "1 1 4 1", "1 2 1 2", "1 2 2 1", "1 4 1 1", "2 1 1 2",
                "2 1 2 1", "2 2 1 1", "4 1 1 1");
        Set<String> got = all.stream().map(o -> o.candidate().replicate() + " " + o.candidate().shard() + " "
                + o.candidate().sp() + " " + o.candidate().ep()).collect(Collectors.toSet());
        assertEquals(want, got);
        assertEquals(10, all.size(), "each factorisation once");
        assertTrue(all.stream().allMatch(PlanSpace.Option::valid));
    }

    @Test
    void familyAndBatchRulesRefuseWithTheirReasons() {
        // a dense model with 2 heads: no ep, sp at most 2; global batch 4
        PlanSpace.FamilyRules rules = (sp, ep) -> ep > 1 ? "dense: no experts" : 2 % sp != 0 ? "heads" : null;
        List<PlanSpace.Option> all = PlanSpace.enumerate(4, 4, List.of(1, 2), List.of(RecomputePolicy.NONE), rules);
        assertEquals(20, all.size());
        // by hand: ep 1 and sp <= 2 leaves (1,2,2,1) (1,4,1,1) (2,1,2,1) (2,2,1,1) (4,1,1,1); micro-batch 1
        // fits every one (4 % dp == 0); micro-batch 2 only the two with 2 data-parallel ranks
        Set<String> want = Set.of("1 2 2 1 mb1", "1 4 1 1 mb1", "2 1 2 1 mb1", "2 2 1 1 mb1", "4 1 1 1 mb1",
                "1 2 2 1 mb2", "2 1 2 1 mb2");
        Set<String> valid = all.stream().filter(PlanSpace.Option::valid).map(o -> o.candidate().replicate() + " "
                + o.candidate().shard() + " " + o.candidate().sp() + " " + o.candidate().ep() + " mb"
                + o.candidate().microBatch()).collect(Collectors.toSet());
        assertEquals(want, valid);
        PlanSpace.Option ep4 = find(all, 1, 1, 1, 4, 1);
        assertEquals("dense: no experts", ep4.refusal());
        assertEquals("heads", find(all, 1, 1, 4, 1, 1).refusal());
        assertEquals("train.global_batch_size 4 is not a multiple of micro-batch 2 x 4 data-parallel ranks",
                find(all, 4, 1, 1, 1, 2).refusal());
    }

    @Test
    void theFamiliesThemselvesSayWhichSpAndEpTheyRun() throws Exception {
        try (Model dense = ModelFamilies.load(MODELS.resolve("tiny-qwen3.json"), ModelOptions.defaults());
                Model moe = ModelFamilies.load(MODELS.resolve("tiny-qwen3-moe.json"), ModelOptions.defaults())) {
            LayoutCheck d = new LayoutCheck(dense);
            assertNull(d.refusal(1, 1));
            assertNull(d.refusal(2, 1));
            String noExperts = d.refusal(1, 2);
            assertNotNull(noExperts);
            assertTrue(noExperts.contains("no experts"), noExperts);
            LayoutCheck m = new LayoutCheck(moe);
            assertNull(m.refusal(1, 8), "8 experts over 8 ranks");
            assertNull(m.refusal(4, 2), "4 heads over 4 sp ranks, 8 experts over 2");
            assertTrue(m.refusal(1, 3).contains("num_experts 8 is not divisible by the ep size 3"), m.refusal(1, 3));
            assertTrue(m.refusal(8, 1).contains("num_attention_heads (4) is not divisible"), m.refusal(8, 1));
        }
    }

    private static PlanSpace.Option find(List<PlanSpace.Option> all, int r, int s, int sp, int ep, int micro) {
        return all.stream().filter(o -> o.candidate().equals(new PlanCandidate(r, s, sp, ep, RecomputePolicy.NONE,
                micro))).findFirst().orElseThrow();
    }
}
