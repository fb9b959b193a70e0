package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.ModelMetrics;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The model's router metrics against a recount from {@link MoeReference}'s routing (float64 loops,
 * one token at a time): tokens per expert of each sparse layer exactly (they are counts), their
 * min / max / stddev, and the unscaled aux over a forward within 1e-12 of the reference's
 * load_balancing_loss_func.
 */
class MoeRouterMetricsTest {
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
     * Two micro-batches trained with every segment recomputed (the MLP's forward runs twice per
     * micro-batch): the counts are those of the two micro-batches' routing, once each.
     */
    @ParameterizedTest(name = "{0} output_router_logits={1}")
    @CsvSource({"qwen3_moe,true", "qwen2_moe,false"})
    void tokensPerExpertEqualARecountOfTheRouting(String family, boolean auxLoss) {
        ObjectNode json = TinyMoe.json(family, false);
        json.put("output_router_logits", auxLoss);
        List<Sample> first = TinyMoe.packedRows(SEQ, 11, 5);
        List<Sample> second = TinyMoe.packedRows(SEQ, 11, 6);
        try (MoeLM model = TinyMoe.model(json, "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            MoeConfig c = model.config();
            MoeReference reference = new MoeReference(c, TinyMoe.weights(model, params));
            reference.forward(first);
            Map<Integer, double[]> want = new java.util.TreeMap<>();
            reference.tokensPerExpert.forEach((layer, counts) -> want.put(layer, counts.clone()));
            reference.forward(second);
            reference.tokensPerExpert.forEach((layer, counts) -> {
                for (int e = 0; e < counts.length; e++) {
                    want.get(layer)[e] += counts[e];
                }
            });
            assertEquals(List.of(0, 2), List.copyOf(want.keySet()), "sparse layers 0 and 2");

            ModelMetrics metrics = model.metrics();
            metrics.clear();
            long labelled = TinyMoe.labelled(first) + TinyMoe.labelled(second);
            TinyMoe.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, first, labelled, Recompute.all());
            TinyMoe.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, second, labelled, Recompute.all());
            double[] sums = metrics.sums();
            int e = c.numExperts();
            assertArrayEquals(want.get(0), java.util.Arrays.copyOfRange(sums, 0, e), "layer 0 tokens per expert");
            assertArrayEquals(want.get(2), java.util.Arrays.copyOfRange(sums, e, 2 * e), "layer 2 tokens per expert");

            Map<String, Double> fields = metrics.fields(sums, Map.of("ce", 1.0));
            for (int layer : want.keySet()) {
                double[] counts = want.get(layer);
                double mean = java.util.Arrays.stream(counts).average().orElseThrow();
                double var = java.util.Arrays.stream(counts).map(v -> (v - mean) * (v - mean)).sum() / counts.length;
                assertEquals(java.util.Arrays.stream(counts).min().orElseThrow(), fields.get("experts." + layer + ".tokens_min"));
                assertEquals(java.util.Arrays.stream(counts).max().orElseThrow(), fields.get("experts." + layer + ".tokens_max"));
                assertEquals(Math.sqrt(var), fields.get("experts." + layer + ".tokens_stddev"), 1e-12);
            }
            assertFalse(fields.containsKey("experts.1.tokens_min"), "layer 1 is dense");
            assertFalse(fields.containsKey("aux_loss"), "a training step without an aux term has no aux_loss: " + fields);
            // In training, aux_loss is the step's aux term without its coefficient.
            assertEquals(0.75 / c.routerAuxLossCoef(),
                    metrics.fields(sums, Map.of("ce", 1.0, "aux", 0.75)).get("aux_loss"), 1e-15);

            metrics.clear();
            assertEquals(0.0, java.util.Arrays.stream(metrics.sums()).sum(), "clear forgets the counts");
        }
    }

    /** A forward outside training (as score runs it): aux_loss over its tokens is transformers' aux. */
    @ParameterizedTest(name = "{0} output_router_logits={1}")
    @CsvSource({"qwen3_moe,true", "qwen2_moe,true", "qwen3_moe,false"})
    void auxLossOfAForwardIsTheLoadBalancingLossOfItsTokens(String family, boolean auxLoss) {
        ObjectNode json = TinyMoe.json(family, true);
        json.put("output_router_logits", auxLoss);
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 7);
        try (MoeLM model = TinyMoe.model(json, "eager");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 4)) {
            MoeReference.Result want = new MoeReference(model.config(), TinyMoe.weights(model, params)).forward(rows);
            ModelMetrics metrics = model.metrics();
            metrics.clear();
            TinyMoe.logits(rank.manager(), model, params, DataType.FLOAT64, rows);
            Map<String, Double> fields = metrics.fields(metrics.sums(), Map.of());
            assertEquals(want.aux(), fields.get("aux_loss"), 1e-12, "unscaled aux of the forward's tokens");
            assertTrue(want.aux() > 1, "aux " + want.aux());
        }
    }
}
