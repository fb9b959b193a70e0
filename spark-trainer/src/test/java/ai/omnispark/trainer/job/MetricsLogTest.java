package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A step's named loss terms become loss_<term> fields of its metrics line, and come back from it. */
class MetricsLogTest {
    @Test
    void eachLossTermGetsItsOwnFieldAndReadsBack() {
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put("ce", 2.25);
        terms.put("moe_aux", 0.125);
        StepResult r = new StepResult(3, 2.375, 1e-3, 0.5, 100, 10, 1, terms);
        ObjectNode o = MetricsLog.toJson(r);
        assertEquals(2.375, o.get("loss").asDouble());
        assertEquals(2.25, o.get("loss_ce").asDouble());
        assertEquals(0.125, o.get("loss_moe_aux").asDouble());
        assertEquals(List.of("step", "loss", "loss_ce", "loss_moe_aux", "lr", "grad_norm", "tokens_per_s", "tokens",
                "step_ms", "data_wait_ms"), iterable(o));
        assertEquals(terms, MetricsLog.lossTerms(o));
    }

    @Test
    void modelMetricsFollowTheFixedFieldsAndReadBackWithoutTheLossTerms() {
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put("ce", 2.25);
        terms.put("aux", 0.02);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("aux_loss", 2.0);
        metrics.put("experts.0.tokens_min", 3.0);
        ObjectNode o = MetricsLog.toJson(new StepResult(3, 2.27, 1e-3, 0.5, 100, 10, 1, terms, metrics));
        assertEquals(List.of("step", "loss", "loss_ce", "loss_aux", "lr", "grad_norm", "tokens_per_s", "tokens",
                "step_ms", "data_wait_ms", "aux_loss", "experts.0.tokens_min"), iterable(o));
        o.put("total", 300);
        assertEquals(metrics, MetricsLog.metrics(o), "the progress channel's total is not a metric");
        assertEquals(terms, MetricsLog.lossTerms(o));
    }

    @Test
    void aStepWithoutTermsWritesOnlyTheTotal() {
        ObjectNode o = MetricsLog.toJson(new StepResult(1, 5.5, 1e-3, 2.25, 256, 40.0, 1.5));
        assertFalse(o.fieldNames().hasNext() && iterable(o).stream().anyMatch(f -> f.startsWith("loss_")), o.toString());
        assertEquals(Map.of(), MetricsLog.lossTerms(o));
    }

    private static List<String> iterable(ObjectNode o) {
        List<String> names = new java.util.ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
