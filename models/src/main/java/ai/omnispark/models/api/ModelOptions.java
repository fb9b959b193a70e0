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
 * @param diffusion a diffusion family's flow-matching settings (train.flow_shift, ...); null = their defaults
 */
public record ModelOptions(String attentionImpl, int lossChunkTokens, LoraConfig lora, FrozenParts frozen,
        DiffusionOptions diffusion) {
    public ModelOptions {
        frozen = frozen == null ? FrozenParts.NONE : frozen;
        diffusion = diffusion == null ? DiffusionOptions.defaults() : diffusion;
        if (attentionImpl == null || attentionImpl.isBlank()) {
            throw new IllegalArgumentException("model.attention_impl must be set (e.g. auto)");
        }
        AttentionImpl.parse(attentionImpl); // a misspelt kernel fails here, naming the key, not inside a family
        if (lossChunkTokens < 0) {
            throw new IllegalArgumentException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
    }

    /** The default diffusion settings. */
    public ModelOptions(String attentionImpl, int lossChunkTokens, LoraConfig lora, FrozenParts frozen) {
        this(attentionImpl, lossChunkTokens, lora, frozen, null);
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
        return new ModelOptions(impl, lossChunkTokens, lora, frozen, diffusion);
    }

    public ModelOptions withDiffusion(DiffusionOptions settings) {
        return new ModelOptions(attentionImpl, lossChunkTokens, lora, frozen, settings);
    }
}
