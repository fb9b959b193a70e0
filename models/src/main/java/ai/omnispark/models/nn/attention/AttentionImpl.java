package ai.omnispark.models.nn.attention;

import java.util.Locale;

/** Which kernel computes attention ({@code model.attention_impl}). */
public enum AttentionImpl {
    /** SDPA where it can express the call, else chunked; eager when a host-drawn dropout mask is given. */
    AUTO,
    /** libtorch's fused scaled_dot_product_attention through a generated TorchScript module. */
    SDPA,
    /** Blocked over queries and keys with an online softmax, in plain DJL ops. */
    CHUNKED,
    /** Materialised scores, a dense additive mask, softmax and two matmuls: the reference path. */
    EAGER;

    public static AttentionImpl parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("model.attention_impl must be auto, sdpa, chunked or eager, got '"
                    + value + "'");
        }
    }

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }
}
