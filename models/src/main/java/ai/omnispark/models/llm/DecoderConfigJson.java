package ai.omnispark.models.llm;

import static ai.omnispark.models.decoder.DecoderConfigKeys.integer;
import static ai.omnispark.models.decoder.DecoderConfigKeys.text;

import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.decoder.DecoderConfigKeys;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** HuggingFace {@code config.json} of the Llama family to and from {@link DecoderConfig}. */
final class DecoderConfigJson {
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
                .numKvHeads(DecoderConfigKeys.kvHeads(root, heads))
                .rmsNormEps(root.path("rms_norm_eps").asDouble(1e-6))
                .ropeTheta(root.path("rope_theta").asDouble(10000))
                .tieWordEmbeddings(root.path("tie_word_embeddings").asBoolean(false))
                .attentionBias(root.path("attention_bias").asBoolean(false))
                .maxPositionEmbeddings(root.path("max_position_embeddings").asInt(4096))
                .initializerRange(root.path("initializer_range").asDouble(0.02))
                .attentionDropout(root.path("attention_dropout").asDouble(0.0))
                .bosTokenId(DecoderConfigKeys.bosTokenId(root))
                .eosTokenId(DecoderConfigKeys.eosTokenId(root));
        if (DecoderConfigKeys.present(root, "head_dim")) {
            b.headDim(integer(root, "head_dim"));
        }
        DecoderConfigKeys.rejectUnsupported(root);
        return b.build();
    }

    /** The config.json of {@code c} as transformers writes it for this family. */
    public static ObjectNode toJson(DecoderConfig c, String torchDtype) {
        String arch = switch (c.family()) {
            case "llama" -> "LlamaForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "Qwen3ForCausalLM";
        };
        ObjectNode o = DecoderConfigKeys.start(c, arch);
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
            DecoderConfigKeys.putNoSlidingWindow(o, c);
        }
        return DecoderConfigKeys.finish(o, c, torchDtype);
    }

    /** generation_config.json: the special token ids, as transformers writes it. */
    public static ObjectNode generationConfig(DecoderConfig c) {
        return DecoderConfigKeys.generationConfig(c);
    }
}
