package ai.omnispark.trainer.config;

import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.trainer.config.Key.Type;
import java.util.List;
import java.util.Map;

/**
 * The {@code model} section: which model, its tokenizer, how it computes, and its adapters.
 *
 * @param loraConfig {@code model.lora_config}; null = no LoRA
 * @param freezeVisionTower {@code model.freeze_vision_tower}: a vision-language model's patch embedding and ViT
 *     blocks do not train
 * @param freezeMerger {@code model.freeze_merger}: its patch merger does not train
 * @param freezeLanguageModel {@code model.freeze_language_model}: its embedding, decoder layers and head do not train
 */
public record ModelSection(
        String configPath,
        String modelPath,
        @Fingerprint("model.tokenizer_path") String tokenizerPath,
        String attentionImpl,
        int lossChunkTokens,
        @Fingerprint("model.lora_config") LoraConfig loraConfig,
        @Fingerprint("model.freeze_vision_tower") boolean freezeVisionTower,
        @Fingerprint("model.freeze_merger") boolean freezeMerger,
        @Fingerprint("model.freeze_language_model") boolean freezeLanguageModel) {

    public static final List<Key> KEYS = List.of(
            new Key("model.config_path", Type.STRING, "", "HF config.json (or a folder with one) to build the model from, with fresh weights"),
            new Key("model.model_path", Type.STRING, "", "HF folder (config.json + model.safetensors) to load config and weights from"),
            new Key("model.tokenizer_path", Type.STRING, "", "HF tokenizer.json; empty = the built-in byte tokenizer"),
            new Key("model.attention_impl", Type.STRING, "auto", "attention kernel: auto | sdpa | chunked | eager"),
            new Key("model.loss_chunk_tokens", Type.INT, 0L, "tokens per chunk of the loss's output projection (the [tokens x vocab] logits never exist whole); 0 = auto, a chunk's logits within 256 MiB"),
            Key.map("model.lora_config", "low-rank adapters (LoRA): {rank, alpha, dropout, lora_modules}; absent = none",
                    new Key("model.lora_config.rank", Type.INT, null, "rank r of each adapter (> 0)"),
                    new Key("model.lora_config.alpha", Type.DOUBLE, null, "the update is scaled by alpha / rank"),
                    new Key("model.lora_config.dropout", Type.DOUBLE, 0.0, "dropout on the adapter's input, in [0, 1)"),
                    new Key("model.lora_config.lora_modules", Type.STRING_LIST, null, "linears that take an adapter: a name equal to one, or ending with '.' + one")),
            new Key("model.freeze_vision_tower", Type.BOOL, false, "vision-language models: the patch embedding and ViT blocks do not train (no gradients, no optimizer state)"),
            new Key("model.freeze_merger", Type.BOOL, false, "vision-language models: the patch merger does not train"),
            new Key("model.freeze_language_model", Type.BOOL, false, "vision-language models: the token embedding, decoder layers and head do not train"));

    static ModelSection parse(Settings s) {
        String attention = s.string("model.attention_impl");
        try {
            AttentionImpl.parse(attention);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        int lossChunkTokens = s.intValue("model.loss_chunk_tokens");
        if (lossChunkTokens < 0) {
            throw new ConfigException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
        return new ModelSection(s.string("model.config_path"), s.string("model.model_path"),
                s.string("model.tokenizer_path"), attention, lossChunkTokens, lora(s.map("model.lora_config")),
                s.flag("model.freeze_vision_tower"), s.flag("model.freeze_merger"), s.flag("model.freeze_language_model"));
    }

    /**
     * The parts of a vision-language model that do not train.
     *
     * @throws IllegalArgumentException when all three are frozen (nothing would train)
     */
    public FrozenParts frozenParts() {
        return new FrozenParts(freezeVisionTower, freezeMerger, freezeLanguageModel);
    }

    /** The folder or config.json the model's HF config is read from: the weights' folder if any. */
    public String hfConfigPath() {
        return modelPath.isBlank() ? configPath : modelPath;
    }

    @SuppressWarnings("unchecked")
    private static LoraConfig lora(Map<String, Object> m) {
        if (m == null) {
            return null;
        }
        for (String required : List.of("rank", "alpha", "lora_modules")) {
            if (m.get(required) == null) {
                throw new ConfigException("model.lora_config." + required + " is required when model.lora_config "
                        + "is given (it has rank, alpha, dropout (default 0) and lora_modules)");
            }
        }
        long rank = (Long) m.get("rank");
        if (rank > Integer.MAX_VALUE) {
            throw new ConfigException("model.lora_config.rank is out of range: " + rank);
        }
        try {
            return new LoraConfig((int) rank, (Double) m.get("alpha"), (Double) m.get("dropout"),
                    (List<String>) m.get("lora_modules"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }
}
