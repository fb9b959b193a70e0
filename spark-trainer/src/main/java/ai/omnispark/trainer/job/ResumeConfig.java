package ai.omnispark.trainer.job;

import ai.omnispark.models.api.Model;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
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
    static final String STRICT = "strict";
    static final String ALLOW_CHANGES = "allow_changes";

    /** The data keys that change which rows a step sees. */
    private static final List<String> DATA_KEYS = List.of("data.train_path", "data.data_type", "data.max_seq_len",
            "data.text_keys", "data.eos_token", "data.pad_token", "model.tokenizer_path", "train.seed",
            "train.global_batch_size");

    static ResumeConfig of(Settings s, Model model, ParallelPlan plan) {
        Map<String, String> v = new TreeMap<>();
        ObjectNode hf = model.hfConfig("float32");
        for (Iterator<Map.Entry<String, JsonNode>> it = hf.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            v.put("model.config." + e.getKey(), e.getValue().toString());
        }
        for (String key : DATA_KEYS) {
            v.put(key, s.text(key));
        }
        v.put("train.world_size", Integer.toString(plan.worldSize()));
        v.put("train.data_parallel_mode", plan.mode().name().toLowerCase());
        v.put("train.data_parallel_shard_size", Integer.toString(plan.shardSize()));
        v.put("train.data_parallel_replicate_size", Integer.toString(plan.replicateSize()));
        return new ResumeConfig(Collections.unmodifiableMap(v));
    }

    /** {@code train.resume_policy}, checked: true for allow_changes. */
    static boolean allowChanges(Settings s) {
        String policy = s.string("train.resume_policy");
        if (!policy.equals(STRICT) && !policy.equals(ALLOW_CHANGES)) {
            throw new ConfigException("train.resume_policy is '" + policy + "'; use " + STRICT + " or " + ALLOW_CHANGES);
        }
        return policy.equals(ALLOW_CHANGES);
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
