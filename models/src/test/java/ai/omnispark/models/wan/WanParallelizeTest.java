package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Segment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The plan on one rank: embed, every block, head; with recompute exactly the blocks drop their activations. */
class WanParallelizeTest {
    @Test
    void recomputeTakesEveryBlockAndNothingElse() {
        try (WanModel model = TinyWan.model(true, "eager", DiffusionOptions.defaults())) {
            for (boolean recompute : new boolean[] {false, true}) {
                Parallelize.Plan plan = model.parallelize().apply(model, null, recompute);
                List<String> names = new ArrayList<>();
                List<String> recomputed = new ArrayList<>();
                for (int i = 0; i < plan.segments().size(); i++) {
                    Segment s = plan.segments().get(i);
                    names.add(s.name());
                    if (plan.recompute().recompute(i, s)) {
                        recomputed.add(s.name());
                    }
                }
                assertEquals(List.of("embed", "blocks.0", "blocks.1", "head"), names);
                assertEquals(recompute ? List.of("blocks.0", "blocks.1") : List.of(), recomputed);
            }
        }
    }
}
