package ai.omnispark.trainer.job;

import ai.omnispark.trainer.config.Fingerprint;
import ai.omnispark.trainer.config.Fingerprints;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a checkpoint records of the run that wrote it (model config, data, parallel plan), so that
 * a resume with other settings is refused naming the keys that differ, unless
 * {@code train.resume_policy} is {@code allow_changes}.
 */
record ResumeConfig(Map<String, String> values) {

    /**
     * The fingerprint of a run: {@code hfConfig}'s fields as {@code model.config.*}, and every
     * {@link Fingerprint}-marked component of the job's section records and of the resolved plan.
     *
     * @param hfConfig the model's HF config.json as the run builds it (float32)
     */
    static ResumeConfig of(JobConfig job, ObjectNode hfConfig, ParallelPlan plan) {
        Map<String, String> v = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = hfConfig.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            v.put("model.config." + e.getKey(), e.getValue().toString());
        }
        v.putAll(Fingerprints.of(job.model(), job.data(), job.train(), job.debug(), plan));
        return new ResumeConfig(Collections.unmodifiableMap(v));
    }

    ObjectNode toJson(ObjectMapper json) {
        ObjectNode o = json.createObjectNode();
        values.forEach(o::put);
        return o;
    }

    /**
     * {@code key: saved -> now} for every key whose value differs from {@code saved} (a checkpoint's
     * record; a missing node means the checkpoint predates the record), in key order.
     */
    List<String> differences(JsonNode saved) {
        List<String> out = new ArrayList<>();
        if (saved == null || !saved.isObject()) {
            out.add("(no configuration recorded: the checkpoint was written by an older OmniSpark)");
            return out;
        }
        TreeSet<String> keys = new TreeSet<>(values.keySet());
        saved.fieldNames().forEachRemaining(keys::add);
        for (String key : keys) {
            String was = saved.has(key) ? saved.get(key).asText() : "(absent)";
            String now = values.getOrDefault(key, "(absent)");
            if (!was.equals(now)) {
                out.add(key + ": " + was + " -> " + now);
            }
        }
        return out;
    }
}
