package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.FiniteDifferences;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine's gradients of the flow-matching loss (gaussian timestep weights, no text dropout: a
 * dropped text would zero the text embedder's gradient) against central finite differences in float64, for every
 * element of every parameter of {@link TinyWan}'s text-to-video and image-to-video models, each on
 * a batch of two latent rows. Each element: |fd - analytic| <= ATOL + RTOL |fd| (the other
 * families' bounds).
 */
class WanGradientCheckTest {
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

    @ParameterizedTest(name = "i2v={0} recompute={1} attention={2}")
    @CsvSource({"false,false,sdpa", "true,true,chunked"})
    void everyParameterMatchesFiniteDifferences(boolean i2v, boolean recompute, String attention) {
        List<Sample> rows = TinyWan.samples(2, i2v, 3);
        DiffusionOptions diffusion = new DiffusionOptions(3.0, DiffusionOptions.GAUSSIAN, 0.0);
        Set<String> checked = new HashSet<>();
        Set<String> all = new HashSet<>();
        try (WanModel model = TinyWan.model(i2v, attention, diffusion);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyWan.randomize(params, model.units(), 17);
            TinyWan.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, rows, 5,
                    recompute ? Recompute.all() : Recompute.none());
            double worst = FiniteDifferences.check(params, model.units(),
                    () -> TinyWan.loss(rank.manager(), model, params, DataType.FLOAT64, rows, 5), ATOL, RTOL, checked);
            for (UnitLayout u : model.units()) {
                for (ParamSpec p : u.params()) {
                    all.add(p.name());
                }
            }
            System.out.printf("wan i2v=%s recompute=%s attention=%s: %d tensors, worst element error %.3f of its "
                    + "bound%n", i2v, recompute, attention, checked.size(), worst);
        }
        assertEquals(all, checked);
        // embed: patch 2 + time 6 + text 4 (+ image embedder 8); block: table 1 + attn 2 x 10 + norm2 2 + ffn 4
        // (+ add_k/add_v 4 + norm_added_k 1); head: proj_out 2 + table 1.
        assertEquals(i2v ? 20 + 2 * 32 + 3 : 12 + 2 * 27 + 3, checked.size());
    }
}
