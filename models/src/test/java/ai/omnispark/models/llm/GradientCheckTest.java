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

    /**
     * Each element: |finite difference - analytic| <= ATOL + RTOL * |finite difference|. Central
     * differences with h = 1e-5 in float64 err by about h^2 times the third derivative plus
     * 1e-16 * loss / h, both far below these bounds; a wrong term in any one element is not.
     */
    private static final double RTOL = 2e-7;
    private static final double ATOL = 2e-9;

    @ParameterizedTest(name = "{0} tied={1} bias={2} dropout={3} recompute={4}")
    @CsvSource({"qwen3,true,false,0,false", "qwen3,true,false,0,true", "qwen2,false,false,0,false",
        "qwen2,false,false,0,true", "llama,false,false,0,true", "llama,true,false,0,false",
        "llama,false,true,0,false", "llama,true,true,0,true", "qwen3,false,false,0.3,true"})
    void gradientsMatchFiniteDifferences(String family, boolean tied, boolean bias, double dropout, boolean recompute) {
        DecoderConfig config = TinyModels.tiny(family, tied, bias, dropout);
        DecoderLM model = new DecoderLM(config);
        int[][] rows = TinyModels.packedRows(SEQ, config.vocabSize(), 7);
        java.util.Set<String> checked = new java.util.HashSet<>();
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyModels.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows,
                    recompute ? Recompute.all() : Recompute.none());
            double h = 1e-5;
            double worst = 0;
            for (UnitLayout unit : model.units()) {
                NDArray w = params.weights(unit.name());
                double[] analytic = params.grad(unit.name()).toDoubleArray();
                for (ParamSpec p : unit.params()) {
                    int start = (int) unit.offset(p.name());
                    double largest = 0;
                    for (int i = start; i < start + p.numel(); i++) {
                        double original = w.getDouble(i);
                        w.set(new NDIndex(i), original + h);
                        double plus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original - h);
                        double minus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original);
                        double fd = (plus - minus) / (2 * h);
                        double error = Math.abs(fd - analytic[i]);
                        worst = Math.max(worst, error / (ATOL + RTOL * Math.abs(fd)));
                        assertTrue(error <= ATOL + RTOL * Math.abs(fd), p.name() + "[" + (i - start) + "]: analytic "
                                + analytic[i] + ", finite difference " + fd);
                        largest = Math.max(largest, Math.abs(fd));
                    }
                    assertTrue(largest > 0, p.name() + " has an all-zero finite-difference gradient");
                    checked.add(p.name());
                }
            }
            System.out.printf("%s tied=%s bias=%s dropout=%s recompute=%s: worst element error %.2f of its bound%n",
                    family, tied, bias, dropout, recompute, worst);
        }
        if (bias && family.equals("llama")) {
            assertTrue(checked.contains(HfNames.layer(0, "self_attn.o_proj.bias")), "o_proj.bias not checked: " + checked);
        }
        assertEquals(tied, !checked.contains("lm_head.weight"), "lm_head.weight checked: " + checked.contains("lm_head.weight"));
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
