package ai.omnispark.models.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter's {@code adapter_config.json}: the LoRA settings and the base model they were
 * trained on ({@code base_model_name_or_path}, may be null). Only what this project computes is
 * accepted on read: plain LoRA (no DoRA, no rsLoRA scale, no per-module rank or alpha, no extra
 * saved modules, no bias, weights stored [out, in]); anything else fails naming the field.
 */
public record PeftConfig(LoraConfig lora, String baseModel) {
    public static final String PEFT_TYPE = "LORA";
    public static final String TASK_TYPE = "CAUSAL_LM";

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A target module PEFT compares by name (a string of other characters is a regex to PEFT). */
    private static final Pattern MODULE_NAME = Pattern.compile("[A-Za-z0-9_.]+");

    public PeftConfig {
        if (lora == null) {
            throw new IllegalArgumentException("a PEFT adapter config needs its LoRA settings");
        }
    }

    /** The JSON PEFT writes for a plain LoRA adapter, with the fields PEFT's LoraConfig reads. */
    public ObjectNode toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("peft_type", PEFT_TYPE);
        root.put("task_type", TASK_TYPE);
        root.put("r", lora.rank());
        // PEFT types lora_alpha as an int; write one when it is whole, so older PEFT versions read it.
        if (lora.alpha() == Math.rint(lora.alpha()) && Math.abs(lora.alpha()) < 1e15) {
            root.put("lora_alpha", (long) lora.alpha());
        } else {
            root.put("lora_alpha", lora.alpha());
        }
        root.put("lora_dropout", lora.dropout());
        ArrayNode targets = root.putArray("target_modules");
        lora.modules().forEach(targets::add);
        if (baseModel == null) {
            root.putNull("base_model_name_or_path");
        } else {
            root.put("base_model_name_or_path", baseModel);
        }
        root.put("bias", "none");
        root.put("fan_in_fan_out", false);
        root.put("inference_mode", true);
        root.put("init_lora_weights", true);
        root.put("use_rslora", false);
        root.put("use_dora", false);
        root.putNull("modules_to_save");
        root.putNull("layers_to_transform");
        root.putObject("rank_pattern");
        root.putObject("alpha_pattern");
        return root;
    }

    /**
     * Reads an adapter_config.json; {@code where} names it in errors.
     *
     * @throws IllegalArgumentException naming the field when it is not a plain PEFT LoRA adapter
     */
    public static PeftConfig fromJson(JsonNode root, String where) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(where + " is not a JSON object");
        }
        String peftType = text(root, "peft_type", where);
        if (!PEFT_TYPE.equals(peftType)) {
            throw new IllegalArgumentException(where + " has peft_type " + peftType + "; only " + PEFT_TYPE
                    + " adapters are supported");
        }
        JsonNode task = root.get("task_type");
        if (task != null && !task.isNull() && !TASK_TYPE.equals(task.asText())) {
            throw new IllegalArgumentException(where + " has task_type " + task + "; only " + TASK_TYPE
                    + " adapters are supported");
        }
        JsonNode r = root.get("r");
        if (r == null || !r.isIntegralNumber() || r.asLong() <= 0 || r.asLong() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(where + ": r must be a positive integer, got " + r);
        }
        double alpha = number(root, "lora_alpha", where);
        if (!(alpha > 0)) {
            throw new IllegalArgumentException(where + ": lora_alpha must be > 0, got " + alpha);
        }
        JsonNode dropoutNode = root.get("lora_dropout");
        double dropout = dropoutNode == null || dropoutNode.isNull() ? 0 : number(root, "lora_dropout", where);
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException(where + ": lora_dropout must be in [0, 1), got " + dropout);
        }
        List<String> modules = targetModules(root.get("target_modules"), where);
        JsonNode bias = root.get("bias");
        if (bias != null && !bias.isNull() && !"none".equals(bias.asText())) {
            throw new IllegalArgumentException(where + " has bias " + bias + "; only \"none\" is supported (the "
                    + "adapter would carry bias tensors this model does not train)");
        }
        refuseTrue(root, "use_dora", where, "DoRA");
        refuseTrue(root, "use_rslora", where, "the rsLoRA scale alpha/sqrt(r)");
        refuseTrue(root, "fan_in_fan_out", where, "weights stored [in, out]");
        refuseNonEmpty(root, "rank_pattern", where);
        refuseNonEmpty(root, "alpha_pattern", where);
        refuseNonEmpty(root, "modules_to_save", where);
        refuseNonEmpty(root, "layers_to_transform", where);
        JsonNode base = root.get("base_model_name_or_path");
        return new PeftConfig(new LoraConfig((int) r.asLong(), alpha, dropout, modules),
                base == null || base.isNull() ? null : base.asText());
    }

    private static List<String> targetModules(JsonNode node, String where) {
        List<String> modules = new ArrayList<>();
        if (node != null && node.isTextual()) {
            // PEFT matches a string target_modules as a regex over full module names.
            if (!MODULE_NAME.matcher(node.asText()).matches()) {
                throw new IllegalArgumentException(where + " has target_modules " + node + ", a regular expression; "
                        + "only a list of module names is supported");
            }
            modules.add(node.asText());
        } else if (node != null && node.isArray()) {
            for (JsonNode m : node) {
                if (!m.isTextual() || m.asText().isBlank()) {
                    throw new IllegalArgumentException(where + " has target_modules entry " + m + ", not a module name");
                }
                modules.add(m.asText());
            }
        }
        if (modules.isEmpty()) {
            throw new IllegalArgumentException(where + " has target_modules " + node
                    + "; it must name at least one module");
        }
        return modules;
    }

    private static String text(JsonNode root, String field, String where) {
        JsonNode n = root.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException(where + " has no " + field + " string (got " + n + ")");
        }
        return n.asText();
    }

    private static double number(JsonNode root, String field, String where) {
        JsonNode n = root.get(field);
        if (n == null || !n.isNumber()) {
            throw new IllegalArgumentException(where + ": " + field + " must be a number, got " + n);
        }
        return n.asDouble();
    }

    private static void refuseTrue(JsonNode root, String field, String where, String what) {
        JsonNode n = root.get(field);
        if (n != null && n.asBoolean(false)) {
            throw new IllegalArgumentException(where + " has " + field + ": true; " + what + " is not supported");
        }
    }

    private static void refuseNonEmpty(JsonNode root, String field, String where) {
        JsonNode n = root.get(field);
        if (n != null && !n.isNull() && !(n.isContainerNode() && n.isEmpty())) {
            throw new IllegalArgumentException(where + " has " + field + " " + n + "; only adapters without "
                    + field + " are supported");
        }
    }
}
