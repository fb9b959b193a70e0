package ai.omnispark.models.llm;

import ai.omnispark.models.api.ModelFamilies;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** HuggingFace {@code config.json} of the Llama family to and from {@link DecoderConfig}. */
final class DecoderConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DecoderConfigJson() {}

    /** Reads {@code path}, a config.json or a folder holding one. */
    public static DecoderConfig read(Path path) throws IOException {
        JsonNode root = ModelFamilies.readConfig(path);
        try {
            return parse(root);
        } catch (IllegalArgumentException e) {
            throw new IOException((Files.isDirectory(path) ? path.resolve("config.json") : path) + ": " + e.getMessage(), e);
        }
    }

    public static DecoderConfig parse(JsonNode root) {
        String type = text(root, "model_type");
        String family = switch (type) {
            case "llama", "qwen2", "qwen3" -> type;
            default -> throw new IllegalArgumentException(
                    "model_type '" + type + "' is not supported; supported: llama, qwen2, qwen3");
        };
        int heads = integer(root, "num_attention_heads");
        DecoderConfig.Builder b = DecoderConfig.builder().family(family)
                .vocabSize(integer(root, "vocab_size"))
                .hiddenSize(integer(root, "hidden_size"))
                .intermediateSize(integer(root, "intermediate_size"))
                .numLayers(integer(root, "num_hidden_layers"))
                .numHeads(heads)
                .numKvHeads(root.has("num_key_value_heads") && !root.get("num_key_value_heads").isNull()
                        ? integer(root, "num_key_value_heads") : heads)
                .rmsNormEps(root.path("rms_norm_eps").asDouble(1e-6))
                .ropeTheta(root.path("rope_theta").asDouble(10000))
                .tieWordEmbeddings(root.path("tie_word_embeddings").asBoolean(false))
                .attentionBias(root.path("attention_bias").asBoolean(false))
                .maxPositionEmbeddings(root.path("max_position_embeddings").asInt(4096))
                .initializerRange(root.path("initializer_range").asDouble(0.02))
                .attentionDropout(root.path("attention_dropout").asDouble(0.0))
                .bosTokenId(root.path("bos_token_id").asInt(-1))
                .eosTokenId(root.path("eos_token_id").isArray()
                        ? root.path("eos_token_id").path(0).asInt(-1) : root.path("eos_token_id").asInt(-1));
        if (root.has("head_dim") && !root.get("head_dim").isNull()) {
            b.headDim(integer(root, "head_dim"));
        }
        if (root.has("rope_scaling") && !root.get("rope_scaling").isNull()) {
            throw new IllegalArgumentException("rope_scaling is not supported yet; remove it or use a model without it");
        }
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("hidden_act '" + act + "' is not supported; only silu");
        }
        return b.build();
    }

    private static String text(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("missing or non-string '" + key + "'");
        }
        return n.asText();
    }

    private static int integer(JsonNode root, String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.canConvertToInt()) {
            throw new IllegalArgumentException("missing or non-integer '" + key + "'");
        }
        return n.asInt();
    }

    /** The config.json of {@code c} as transformers writes it for this family. */
    public static ObjectNode toJson(DecoderConfig c, String torchDtype) {
        ObjectNode o = JSON.createObjectNode();
        String arch = switch (c.family()) {
            case "llama" -> "LlamaForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "Qwen3ForCausalLM";
        };
        o.putArray("architectures").add(arch);
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
        if (!c.family().equals("qwen2")) {
            o.put("attention_bias", c.attentionBias());
        }
        if (!c.family().equals("qwen2") || c.attentionDropout() > 0) {
            o.put("attention_dropout", c.attentionDropout());
        }
        if (c.family().equals("llama")) {
            o.put("mlp_bias", false);
            o.put("pretraining_tp", 1);
        } else {
            o.put("use_sliding_window", false);
            o.put("sliding_window", c.maxPositionEmbeddings());
            o.put("max_window_layers", c.numLayers());
        }
        if (c.bosTokenId() >= 0) {
            o.put("bos_token_id", c.bosTokenId());
        }
        if (c.eosTokenId() >= 0) {
            o.put("eos_token_id", c.eosTokenId());
        }
        o.put("use_cache", true);
        o.put("torch_dtype", torchDtype);
        o.put("transformers_version", "4.51.0");
        return o;
    }

    public static void write(DecoderConfig c, String torchDtype, Path file) throws IOException {
        JSON.writeValue(file.toFile(), toJson(c, torchDtype));
    }

    public static void writeGenerationConfig(DecoderConfig c, Path file) throws IOException {
        JSON.writeValue(file.toFile(), generationConfig(c));
    }

    /** generation_config.json: the special token ids, as transformers writes it. */
    public static ObjectNode generationConfig(DecoderConfig c) {
        ObjectNode o = JSON.createObjectNode();
        if (c.bosTokenId() >= 0) {
            o.put("bos_token_id", c.bosTokenId());
        }
        if (c.eosTokenId() >= 0) {
            o.put("eos_token_id", c.eosTokenId());
        }
        o.put("transformers_version", "4.51.0");
        return o;
    }
}
