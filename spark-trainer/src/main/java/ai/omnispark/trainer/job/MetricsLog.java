package ai.omnispark.trainer.job;

import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JSON object of one step, as metrics.jsonl holds it and rank 0 sends it to the driver. Each
 * named term of the objective gets a field {@code loss_<term>} besides the total {@code loss}; the
 * model's own metrics ({@link StepResult#metrics}, e.g. a MoE's {@code aux_loss}) follow the fixed
 * fields under their own names.
 */
public final class MetricsLog {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The prefix of a loss term's field. */
    public static final String TERM_PREFIX = "loss_";

    private MetricsLog() {}

    public static ObjectNode toJson(StepResult r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", r.step());
        o.put("loss", r.loss());
        r.lossTerms().forEach((term, value) -> o.put(TERM_PREFIX + term, value));
        o.put("lr", r.lr());
        o.put("grad_norm", r.gradNorm());
        o.put("tokens_per_s", r.tokensPerSecond());
        o.put("tokens", r.tokens());
        o.put("step_ms", r.stepMs());
        o.put("data_wait_ms", r.dataWaitMs());
        r.metrics().forEach(o::put);
        return o;
    }

    /** The fields every step has (and the progress channel's "total"): what is not a model metric. */
    private static final java.util.Set<String> FIXED = java.util.Set.of("step", "loss", "lr", "grad_norm",
            "tokens_per_s", "tokens", "step_ms", "data_wait_ms", "total");

    /** The model metrics of a step's JSON object: its numeric fields that are neither fixed nor loss terms, in field order. */
    public static Map<String, Double> metrics(JsonNode o) {
        Map<String, Double> metrics = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!FIXED.contains(f.getKey()) && !f.getKey().startsWith(TERM_PREFIX) && f.getValue().isNumber()) {
                metrics.put(f.getKey(), f.getValue().asDouble());
            }
        }
        return metrics;
    }

    /** The loss terms of a step's JSON object (its {@code loss_<term>} fields), in field order. */
    public static Map<String, Double> lossTerms(JsonNode o) {
        Map<String, Double> terms = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = o.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().startsWith(TERM_PREFIX) && f.getValue().isNumber()) {
                terms.put(f.getKey().substring(TERM_PREFIX.length()), f.getValue().asDouble());
            }
        }
        return terms;
    }
}
