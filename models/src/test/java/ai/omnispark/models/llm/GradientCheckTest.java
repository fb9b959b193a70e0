package ai.omnispark.models.llm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.index.NDIndex;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine's gradients against central finite differences of the loss, in float64, for every
 * element of every parameter tensor, on packed rows, with recompute off and on every segment.
 */
class GradientCheckTest {
    private static final int SEQ = 9;
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

    @ParameterizedTest(name = "{0} tied={1} recompute={2}")
    @CsvSource({"qwen3,true,false", "qwen3,true,true", "qwen2,false,false", "qwen2,false,true",
        "llama,false,true"})
    void gradientsMatchFiniteDifferences(String family, boolean tied, boolean recompute) {
        DecoderConfig config = TinyModels.tiny(family, tied);
        DecoderLM model = new DecoderLM(config);
        int[][] rows = TinyModels.packedRows(SEQ, config.vocabSize(), 7);
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyModels.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows,
                    recompute ? Recompute.all() : Recompute.none());
            double h = 1e-5;
            for (UnitLayout unit : model.units()) {
                NDArray w = params.weights(unit.name());
                double[] analytic = params.grad(unit.name()).toDoubleArray();
                for (ParamSpec p : unit.params()) {
                    int start = (int) unit.offset(p.name());
                    double num = 0;
                    double den = 0;
                    for (int i = start; i < start + p.numel(); i++) {
                        double original = w.getDouble(i);
                        w.set(new NDIndex(i), original + h);
                        double plus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original - h);
                        double minus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original);
                        double fd = (plus - minus) / (2 * h);
                        num += (fd - analytic[i]) * (fd - analytic[i]);
                        den += fd * fd;
                    }
                    assertTrue(den > 0, p.name() + " has an all-zero finite-difference gradient");
                    double rel = Math.sqrt(num / den);
                    assertTrue(rel <= 1e-4, p.name() + ": relative gradient error " + rel);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"qwen3", "qwen2", "llama"})
    void recomputeGivesIdenticalLossAndGradientsInFloat32(String family) {
        DecoderConfig config = TinyModels.tiny(family, false);
        DecoderLM model = new DecoderLM(config);
        int[][] rows = TinyModels.packedRows(SEQ, config.vocabSize(), 11);
        try (LocalParams kept = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 5);
                LocalParams recomputed = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 5)) {
            double a = TinyModels.lossAndGrad(rank.manager(), model, kept, DataType.FLOAT32, SEQ, rows,
                    Recompute.none());
            double b = TinyModels.lossAndGrad(rank.manager(), model, recomputed, DataType.FLOAT32, SEQ, rows,
                    Recompute.all());
            assertEquals(a, b, 1e-6 * Math.abs(a));
            for (UnitLayout unit : model.units()) {
                float[] ga = kept.grad(unit.name()).toFloatArray();
                float[] gb = recomputed.grad(unit.name()).toFloatArray();
                double num = 0;
                double den = 0;
                for (int i = 0; i < ga.length; i++) {
                    num += (ga[i] - gb[i]) * (double) (ga[i] - gb[i]);
                    den += ga[i] * (double) ga[i];
                }
                assertTrue(den > 0, unit.name() + " got no gradient");
                assertTrue(Math.sqrt(num / den) <= 1e-6, unit.name() + " differs: " + Math.sqrt(num / den));
            }
        }
    }
}
