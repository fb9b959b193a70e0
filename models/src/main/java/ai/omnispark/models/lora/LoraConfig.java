package ai.omnispark.models.lora;

import java.util.List;

/**
 * {@code model.lora_config} (VeOmni's keys): low-rank adapters on the linears named by
 * {@code modules}. A linear matches when its name equals a module name or ends with "." + it
 * ("q_proj" matches "model.layers.0.self_attn.q_proj").
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> modules) {
    public LoraConfig {
        if (rank <= 0) {
            throw new IllegalArgumentException("model.lora_config.rank must be > 0, got " + rank);
        }
        if (!(alpha > 0)) {
            throw new IllegalArgumentException("model.lora_config.alpha must be > 0, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("model.lora_config.dropout must be in [0, 1), got " + dropout);
        }
        if (modules == null || modules.isEmpty()) {
            throw new IllegalArgumentException("model.lora_config.lora_modules must name at least one linear");
        }
        for (String m : modules) {
            if (m == null || m.isBlank()) {
                throw new IllegalArgumentException("model.lora_config.lora_modules has an empty name: " + modules);
            }
        }
        modules = List.copyOf(modules);
    }

    /** The factor of B·A in y = base(x) + B·A·dropout(x) · alpha/rank. */
    public double scale() {
        return alpha / rank;
    }

    /** Whether the linear named {@code module} (without ".weight") takes an adapter. */
    public boolean matches(String module) {
        for (String m : modules) {
            if (names(module, m)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the lora_modules entry {@code entry} names the linear {@code module}. */
    public static boolean names(String module, String entry) {
        return module.equals(entry) || module.endsWith("." + entry);
    }
}
