package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.FiniteDifferences;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine's gradients of (CE + coef * aux) / labelled tokens against central finite differences
 * in float64, for every element of every parameter (router, every expert, Qwen2-MoE's shared
 * expert and its gate, biases, q/k norms), on packed rows with padding. Top-k choices are piecewise
 * constant; h = 1e-5 flips none of them for these weights (a flip would show as a huge error).
 */
class MoeGradientCheckTest {
    private static final int SEQ = 9;
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

    @ParameterizedTest(name = "{0} tied={1} recompute={2} aux={3}")
    @CsvSource({"qwen3_moe,true,false,true", "qwen3_moe,false,true,true", "qwen2_moe,false,false,true",
        "qwen2_moe,true,true,false"})
    void gradientsMatchFiniteDifferences(String family, boolean tied, boolean recompute, boolean aux) {
        var json = TinyMoe.json(family, tied);
        json.put("output_router_logits", aux);
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 7);
        Set<String> checked = new HashSet<>();
        try (MoeLM model = TinyMoe.model(json, "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyMoe.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, rows, TinyMoe.labelled(rows),
                    recompute ? Recompute.all() : Recompute.none());
            double worst = FiniteDifferences.check(params, model.units(),
                    () -> TinyMoe.loss(rank.manager(), model, params, DataType.FLOAT64, rows), ATOL, RTOL, checked);
            System.out.printf("%s tied=%s recompute=%s aux=%s: %d tensors, worst element error %.3f of its bound%n",
                    family, tied, recompute, aux, checked.size(), worst);
        }
        assertTrue(checked.contains(DecoderNames.layer(0, "mlp.gate.weight")));
        assertTrue(checked.contains(MoeNames.expert(2, 3, "down_proj")));
        assertTrue(checked.contains(DecoderNames.layer(1, "mlp.gate_proj.weight")), "layer 1 is dense");
        assertEquals(family.equals("qwen2_moe"), checked.contains(DecoderNames.layer(0, "mlp.shared_expert_gate.weight")));
        assertEquals(family.equals("qwen2_moe"), checked.contains(DecoderNames.layer(2, "self_attn.q_proj.bias")));
        assertEquals(family.equals("qwen3_moe"), checked.contains(DecoderNames.layer(2, "self_attn.q_norm.weight")));
    }
}
