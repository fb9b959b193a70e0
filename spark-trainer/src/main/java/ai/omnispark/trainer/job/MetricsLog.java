package ai.omnispark.trainer.job;

import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The JSON object of one step, as metrics.jsonl holds it and rank 0 sends it to the driver. */
public final class MetricsLog {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MetricsLog() {}

    public static ObjectNode toJson(StepResult r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", r.step());
        o.put("loss", r.loss());
        o.put("lr", r.lr());
        o.put("grad_norm", r.gradNorm());
        o.put("tokens_per_s", r.tokensPerSecond());
        o.put("tokens", r.tokens());
        o.put("step_ms", r.stepMs());
        o.put("data_wait_ms", r.dataWaitMs());
        return o;
    }
}
