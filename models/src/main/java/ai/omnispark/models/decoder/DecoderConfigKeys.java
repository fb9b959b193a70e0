package ai.omnispark.models.decoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The HF config.json keys every decoder family reads and writes the same way (the shape, the rotary
 * and norm settings, the special tokens), and the checks on them that every family's config makes.
 * Each family's own JSON class adds its model types, defaults and extra keys around these.
 */
public final class DecoderConfigKeys {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The transformers version our exported configs claim, the one whose config classes they follow. */
    private static final String TRANSFORMERS_VERSION = "4.51.0";

    private DecoderConfigKeys() {}

    /** Whether {@code key} is there and not null. */
    public static boolean present(JsonNode root, String key) {
        return root.has(key) && !root.get(key).isNull();
    }

    public static String text(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("missing or non-string '" + key + "'");
        }
        return n.asText();
    }

    public static int integer(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.canConvertToInt()) {
            throw new IllegalArgumentException("missing or non-integer '" + key + "'");
        }
        return n.asInt();
    }

    /** num_key_value_heads; absent or null means multi-head attention ({@code heads}). */
    public static int kvHeads(JsonNode root, int heads) {
        return present(root, "num_key_value_heads") ? integer(root, "num_key_value_heads") : heads;
    }

    /** bos_token_id; -1 when absent. */
    public static int bosTokenId(JsonNode root) {
        return root.path("bos_token_id").asInt(-1);
    }

    /** eos_token_id, the first one when it is a list; -1 when absent. */
    public static int eosTokenId(JsonNode root) {
        JsonNode eos = root.path("eos_token_id");
        return eos.isArray() ? eos.path(0).asInt(-1) : eos.asInt(-1);
    }

    /** Rejects the settings no decoder here implements: rope_scaling, an activation other than silu. */
    public static void rejectUnsupported(JsonNode root) {
        if (present(root, "rope_scaling")) {
            throw new IllegalArgumentException("rope_scaling is not supported yet; remove it or use a model without it");
        }
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("hidden_act '" + act + "' is not supported; only silu");
        }
    }

    /** The checks every decoder config makes on its shared fields, named by their config.json keys. */
    public static void checkShape(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
            int numKvHeads, int headDim, double rmsNormEps, double ropeTheta, double attentionDropout) {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads (" + numHeads
                    + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for rotary embeddings, got " + headDim);
        }
        if (!(rmsNormEps > 0)) {
            throw new IllegalArgumentException("rms_norm_eps must be > 0, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0)) {
            throw new IllegalArgumentException("rope_theta must be > 0, got " + ropeTheta);
        }
        if (!(attentionDropout >= 0 && attentionDropout < 1)) {
            throw new IllegalArgumentException("attention_dropout must be in [0, 1), got " + attentionDropout);
        }
    }

    public static void positive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be > 0, got " + value);
        }
    }

    /**
     * A config.json that starts with {@code architectures} and {@code model_type} and continues with
     * the shared shape keys, vocab_size through tie_word_embeddings, in transformers' order.
     */
    public static ObjectNode start(DecoderShape c, String architecture) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(architecture);
        o.put("model_type", c.family());
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("intermediate_size", c.intermediateSize());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("hidden_act", "silu");
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("rope_theta", c.ropeTheta());
        o.putNull("rope_scaling");
        o.put("max_position_embeddings", c.maxPositionEmbeddings());
        o.put("initializer_range", c.initializerRange());
        o.put("tie_word_embeddings", c.tieWordEmbeddings());
        return o;
    }

    /** The Qwen families' sliding-window keys, written as off (we attend over the whole row). */
    public static void putNoSlidingWindow(ObjectNode o, DecoderShape c) {
        o.put("use_sliding_window", false);
        o.put("sliding_window", c.maxPositionEmbeddings());
        o.put("max_window_layers", c.numLayers());
    }

    /** Ends a config.json: the special tokens the config has, use_cache, torch_dtype and the transformers version. */
    public static ObjectNode finish(ObjectNode o, DecoderShape c, String torchDtype) {
        putSpecialTokens(o, c);
        o.put("use_cache", true);
        o.put("torch_dtype", torchDtype);
        o.put("transformers_version", TRANSFORMERS_VERSION);
        return o;
    }

    /** generation_config.json: the special token ids, as transformers writes it. */
    public static ObjectNode generationConfig(DecoderShape c) {
        ObjectNode o = JSON.createObjectNode();
        putSpecialTokens(o, c);
        o.put("transformers_version", TRANSFORMERS_VERSION);
        return o;
    }

    private static void putSpecialTokens(ObjectNode o, DecoderShape c) {
        if (c.bosTokenId() >= 0) {
            o.put("bos_token_id", c.bosTokenId());
        }
        if (c.eosTokenId() >= 0) {
            o.put("eos_token_id", c.eosTokenId());
        }
    }
}
