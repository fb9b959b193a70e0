package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.decoder.FiniteDifferences;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine's gradients of the loss (summed CE / labelled tokens) against central finite
 * differences in float64, for every element of every vision, merger and language-model parameter,
 * on {@link TinyVlm}'s batch: two images of different sizes in one packed row (two documents and
 * padding), a two-frame-group video in the other. Each element: |fd - analytic| <= ATOL + RTOL |fd|,
 * the bounds of the decoder families' checks.
 */
class Qwen2VlGradientCheckTest {
    private static final double RTOL = 2e-7;
    private static final double ATOL = 2e-9;
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /** block: the chunked kernel's query/key block, 3 so blocks straddle the frame groups and documents. */
    @ParameterizedTest(name = "tied={0} recompute={1} attention={2}")
    @CsvSource({"false,false,sdpa", "true,true,chunked"})
    void everyParameterMatchesFiniteDifferences(boolean tied, boolean recompute, String attention) {
        double[][] pixels = TinyVlm.pixels(Qwen2VlConfigJson.parse(TinyVlm.json(tied)).vision(), 5);
        Set<String> checked = new HashSet<>();
        Set<String> all = new HashSet<>();
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(tied), attention, 3);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyVlm.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, pixels,
                    recompute ? Recompute.all() : Recompute.none());
            double worst = FiniteDifferences.check(params, model.units(),
                    () -> TinyVlm.loss(rank.manager(), model, params, DataType.FLOAT64, pixels), ATOL, RTOL, checked);
            for (UnitLayout u : model.units()) {
                for (ParamSpec p : u.params()) {
                    all.add(p.name());
                }
            }
            System.out.printf("qwen2_vl tied=%s recompute=%s attention=%s: %d tensors, worst element error %.3f of its "
                    + "bound%n", tied, recompute, attention, checked.size(), worst);
        }
        assertEquals(all, checked);
        assertEquals(tied ? 57 : 58, checked.size(), "1 patch embed + 2 x 12 block + 6 merger + embed + 2 x 12 layer "
                + "(tied: no lm_head) + norm + lm_head");
    }
}
