package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The family's forward against {@link MoeReference} (plain float64 loops) on packed rows with
 * padding: logits at every non-padding position, the summed cross-entropy and the aux term, within
 * 1e-10 (float64 rounding of differently ordered sums).
 */
class MoeForwardTest {
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

    @ParameterizedTest(name = "{0} tied={1} attention={2}")
    @CsvSource({"qwen3_moe,true,sdpa", "qwen3_moe,false,eager", "qwen2_moe,false,sdpa", "qwen2_moe,true,chunked"})
    void logitsCrossEntropyAndAuxMatchTheFloat64Reference(String family, boolean tied, String attention) {
        ObjectNode json = TinyMoe.json(family, tied);
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 5);
        try (MoeLM model = TinyMoe.model(json, attention);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            MoeConfig c = model.config();
            assertEquals(2, c.sparseLayers(), "layers 0 and 2 sparse, 1 in mlp_only_layers");
            MoeReference.Result want = new MoeReference(c, TinyMoe.weights(model, params)).forward(rows);
            double[] got = TinyMoe.logits(rank.manager(), model, params, DataType.FLOAT64, rows);
            int vocab = c.vocabSize();
            int compared = 0;
            for (int r = 0; r < rows.size(); r++) {
                int[] doc = rows.get(r).ints(Sample.DOC_IDS);
                for (int i = 0; i < SEQ; i++) {
                    if (doc[i] < 0) {
                        continue;
                    }
                    int t = r * SEQ + i;
                    for (int v = 0; v < vocab; v++) {
                        assertEquals(want.logits()[t][v], got[t * vocab + v], 1e-10, "logit [" + t + "][" + v + "]");
                        compared++;
                    }
                }
            }
            assertTrue(compared > 0);
            double[] terms = TinyMoe.terms(rank.manager(), model, params, DataType.FLOAT64, rows);
            assertEquals(2, terms.length, "ce and aux");
            assertEquals(want.ceSum(), terms[0], 1e-10 * want.ceSum(), "summed cross-entropy");
            double labelled = TinyMoe.labelled(rows);
            double aux = terms[1] / (labelled * c.routerAuxLossCoef());
            assertEquals(want.aux(), aux, 1e-12, "aux (unscaled)");
            // A balanced router gives aux = top_k; this one is not perfectly balanced, but close to it.
            assertTrue(want.aux() >= 1 && want.aux() < 2 * c.numExpertsPerTok(), "aux " + want.aux());
            System.out.printf("%s: aux %.6f, ce/token %.6f%n", family, want.aux(), want.ceSum() / labelled);
        }
    }

    @Test
    void withoutOutputRouterLogitsTheHeadGivesOnlyTheCrossEntropy() {
        ObjectNode json = TinyMoe.json("qwen3_moe", true);
        json.put("output_router_logits", false);
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 5);
        try (MoeLM model = TinyMoe.model(json, "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            double[] terms = TinyMoe.terms(rank.manager(), model, params, DataType.FLOAT64, rows);
            assertEquals(1, terms.length);
            assertEquals(List.of("ce"), List.copyOf(model.objective().lossTerms(
                    new ai.djl.ndarray.NDList(rank.manager().create(terms[0]))).keySet()));
            MoeReference.Result want = new MoeReference(model.config(), TinyMoe.weights(model, params)).forward(rows);
            assertEquals(want.ceSum(), terms[0], 1e-10 * want.ceSum());
        }
    }

    @Test
    void familyIsFoundByModelTypeAndBadConfigsNameTheKey() {
        ObjectNode json = TinyMoe.json("qwen2_moe", false);
        try (var model = ModelFamilies.build(json, ModelOptions.defaults())) {
            assertEquals("qwen2_moe", model.family());
            assertEquals(model.units().stream().mapToLong(u -> u.numel()).sum(), model.parameterCount());
        }
        ObjectNode badTopK = TinyMoe.json("qwen3_moe", false);
        badTopK.put("num_experts_per_tok", 5);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MoeConfigJson.parse(badTopK)).getMessage()
                .contains("num_experts_per_tok"));
        ObjectNode badLayer = TinyMoe.json("qwen3_moe", false);
        badLayer.putArray("mlp_only_layers").add(3);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MoeConfigJson.parse(badLayer)).getMessage()
                .contains("mlp_only_layers"));
        ObjectNode noShared = TinyMoe.json("qwen2_moe", false);
        noShared.remove("shared_expert_intermediate_size");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MoeConfigJson.parse(noShared)).getMessage()
                .contains("shared_expert_intermediate_size"));
    }

    /** decoder_sparse_step 2 and mlp_only_layers pick the dense layers as transformers does. */
    @Test
    void sparseLayersFollowDecoderSparseStepAndMlpOnlyLayers() {
        ObjectNode json = TinyMoe.json("qwen3_moe", false);
        json.put("num_hidden_layers", 6);
        json.put("decoder_sparse_step", 2);
        json.putArray("mlp_only_layers").add(3);
        MoeConfig c = MoeConfigJson.parse(json);
        boolean[] want = {false, true, false, false, false, true};
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], c.sparse(i), "layer " + i);
        }
        json.put("num_experts", 0);
        json.put("num_experts_per_tok", 0);
        MoeConfig dense = MoeConfigJson.parse(json);
        assertEquals(0, dense.sparseLayers());
        assertTrue(!dense.auxLoss());
    }
}
