package ai.omnispark.models.api;

import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.nn.attention.AttentionImpl;

/**
 * How to build a model besides its config.json: the job's model.* settings a family may use.
 *
 * @param attentionImpl model.attention_impl: auto, sdpa, chunked or eager
 * @param lossChunkTokens tokens per chunk of a chunked loss (model.loss_chunk_tokens); 0 = auto
 * @param lora the adapters to add, or null for none
 * @param frozen the parts of a vision-language model that do not train; null = none
 */
public record ModelOptions(String attentionImpl, int lossChunkTokens, LoraConfig lora, FrozenParts frozen) {
    public ModelOptions {
        frozen = frozen == null ? FrozenParts.NONE : frozen;
        if (attentionImpl == null || attentionImpl.isBlank()) {
            throw new IllegalArgumentException("model.attention_impl must be set (e.g. auto)");
        }
        AttentionImpl.parse(attentionImpl); // a misspelt kernel fails here, naming the key, not inside a family
        if (lossChunkTokens < 0) {
            throw new IllegalArgumentException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
    }

    /** Nothing frozen. */
    public ModelOptions(String attentionImpl, int lossChunkTokens, LoraConfig lora) {
        this(attentionImpl, lossChunkTokens, lora, FrozenParts.NONE);
    }

    /** Automatic attention, automatic loss chunks, no adapters. */
    public static ModelOptions defaults() {
        return new ModelOptions("auto", 0, null);
    }

    public ModelOptions withAttention(String impl) {
        return new ModelOptions(impl, lossChunkTokens, lora, frozen);
    }
}
