package ai.omnispark.models.vlm;

import static ai.omnispark.models.decoder.DecoderConfigKeys.integer;
import static ai.omnispark.models.decoder.DecoderConfigKeys.present;

import ai.omnispark.models.decoder.DecoderConfigKeys;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * HF {@code config.json} of Qwen2-VL to and from {@link Qwen2VlConfig}. The text fields are read
 * flat (transformers up to 4.52 writes them so) or from {@code text_config} (later releases), whose
 * keys win over top-level ones; the media token ids are top-level. Keys a config leaves out take
 * the defaults of transformers' Qwen2VLConfig / Qwen2VLVisionConfig, except the shape keys and
 * {@code rope_scaling.mrope_section}, which are required. Export writes the flat layout.
 */
final class Qwen2VlConfigJson {
    private Qwen2VlConfigJson() {}

    static Qwen2VlConfig parse(JsonNode root) {
        String type = DecoderConfigKeys.text(root, "model_type");
        if (!type.equals(Qwen2VlConfig.MODEL_TYPE)) {
            throw new IllegalArgumentException("model_type '" + type + "' is not " + Qwen2VlConfig.MODEL_TYPE);
        }
        JsonNode text = textFields(root);
        String act = text.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("hidden_act '" + act + "' is not supported; only silu");
        }
        if (text.path("use_sliding_window").asBoolean(false)) {
            throw new IllegalArgumentException("use_sliding_window true is not supported; set it to false");
        }
        int hidden = integer(text, "hidden_size");
        int heads = integer(text, "num_attention_heads");
        if (present(text, "head_dim") && hidden % heads == 0 && integer(text, "head_dim") != hidden / heads) {
            throw new IllegalArgumentException("head_dim " + integer(text, "head_dim") + " differs from hidden_size / "
                    + "num_attention_heads = " + hidden / heads + ", which Qwen2-VL's attention uses");
        }
        return new Qwen2VlConfig(
                integer(text, "vocab_size"),
                hidden,
                integer(text, "intermediate_size"),
                integer(text, "num_hidden_layers"),
                heads,
                DecoderConfigKeys.kvHeads(text, heads),
                text.path("rms_norm_eps").asDouble(1e-5),
                text.path("rope_theta").asDouble(1000000.0),
                text.path("tie_word_embeddings").asBoolean(false),
                text.path("max_position_embeddings").asInt(32768),
                text.path("initializer_range").asDouble(0.02),
                DecoderConfigKeys.bosTokenId(text),
                DecoderConfigKeys.eosTokenId(text),
                text.path("attention_dropout").asDouble(0.0),
                mropeSection(text),
                new VlmTokens(tokenId(root, text, "image_token_id", 151655), tokenId(root, text, "video_token_id", 151656),
                        tokenId(root, text, "vision_start_token_id", 151652),
                        tokenId(root, text, "vision_end_token_id", 151653)),
                vision(root.path("vision_config"), hidden));
    }

    /** The config.json of {@code c}: the text fields flat, as Qwen2VLConfig of transformers 4.51 writes it. */
    static ObjectNode toJson(Qwen2VlConfig c, String torchDtype) {
        ObjectNode o = DecoderConfigKeys.start(c, Qwen2VlConfig.ARCHITECTURE);
        ObjectNode rope = o.objectNode();
        rope.put("type", "mrope");
        ArrayNode section = rope.putArray("mrope_section");
        c.mropeSection().forEach(section::add);
        o.set("rope_scaling", rope);
        o.put("attention_dropout", c.attentionDropout());
        DecoderConfigKeys.putNoSlidingWindow(o, c);
        o.put("image_token_id", c.tokens().imageTokenId());
        o.put("video_token_id", c.tokens().videoTokenId());
        o.put("vision_start_token_id", c.tokens().visionStartTokenId());
        o.put("vision_end_token_id", c.tokens().visionEndTokenId());
        VisionConfig v = c.vision();
        ObjectNode vision = o.putObject("vision_config");
        vision.put("depth", v.depth());
        vision.put("embed_dim", v.embedDim());
        vision.put("hidden_size", v.hiddenSize());
        vision.put("hidden_act", v.hiddenAct());
        vision.put("mlp_ratio", v.mlpRatio());
        vision.put("num_heads", v.numHeads());
        vision.put("in_channels", v.inChannels());
        vision.put("patch_size", v.patchSize());
        vision.put("spatial_merge_size", v.spatialMergeSize());
        vision.put("temporal_patch_size", v.temporalPatchSize());
        return DecoderConfigKeys.finish(o, c, torchDtype);
    }

    /** The top-level keys overlaid with {@code text_config}'s, which win. */
    private static JsonNode textFields(JsonNode root) {
        JsonNode nested = root.get("text_config");
        if (nested == null || nested.isNull()) {
            return root;
        }
        if (!nested.isObject()) {
            throw new IllegalArgumentException("text_config must be an object, got " + nested);
        }
        ObjectNode merged = ((ObjectNode) root).deepCopy();
        merged.setAll((ObjectNode) nested);
        return merged;
    }

    /** A media token id: top-level, else text_config's, else transformers' default. */
    private static int tokenId(JsonNode root, JsonNode text, String key, int fallback) {
        JsonNode from = present(root, key) ? root : text;
        return present(from, key) ? integer(from, key) : fallback;
    }

    private static List<Integer> mropeSection(JsonNode text) {
        JsonNode rope = text.get("rope_scaling");
        if (rope == null || rope.isNull() || !rope.isObject()) {
            throw new IllegalArgumentException("rope_scaling must be an object with mrope_section (e.g. {\"type\": \"mrope\", "
                    + "\"mrope_section\": [16, 24, 24]}), got " + rope);
        }
        String kind = rope.path("type").asText(rope.path("rope_type").asText("mrope"));
        if (!kind.equals("mrope") && !kind.equals("default")) {
            throw new IllegalArgumentException("rope_scaling type '" + kind + "' is not supported; Qwen2-VL uses mrope");
        }
        JsonNode section = rope.get("mrope_section");
        if (section == null || !section.isArray()) {
            throw new IllegalArgumentException("rope_scaling.mrope_section must be a list of 3 integers, got " + section);
        }
        List<Integer> values = new ArrayList<>();
        for (JsonNode n : section) {
            if (!n.canConvertToInt()) {
                throw new IllegalArgumentException("rope_scaling.mrope_section must hold integers, got " + section);
            }
            values.add(n.asInt());
        }
        return values;
    }

    /**
     * vision_config with Qwen2VLVisionConfig's defaults, except {@code hidden_size}, which defaults to
     * the language model's (the only value that builds); HF's published configs write {@code in_chans}
     * and {@code spatial_patch_size}, read when {@code in_channels} / {@code patch_size} are absent.
     */
    private static VisionConfig vision(JsonNode v, int textHidden) {
        if (v.isMissingNode() || v.isNull()) {
            throw new IllegalArgumentException("config.json has no vision_config");
        }
        if (!v.isObject()) {
            throw new IllegalArgumentException("vision_config must be an object, got " + v);
        }
        return new VisionConfig(
                intOr(v, "depth", 32),
                intOr(v, "embed_dim", 1280),
                intOr(v, "hidden_size", textHidden),
                v.path("hidden_act").asText(VisionConfig.QUICK_GELU),
                v.path("mlp_ratio").asDouble(4),
                intOr(v, "num_heads", 16),
                present(v, "in_channels") ? intOr(v, "in_channels", 3) : intOr(v, "in_chans", 3),
                present(v, "patch_size") ? intOr(v, "patch_size", 14) : intOr(v, "spatial_patch_size", 14),
                intOr(v, "spatial_merge_size", 2),
                intOr(v, "temporal_patch_size", 2));
    }

    private static int intOr(JsonNode node, String key, int fallback) {
        if (!present(node, key)) {
            return fallback;
        }
        JsonNode n = node.get(key);
        if (!n.canConvertToInt()) {
            throw new IllegalArgumentException("vision_config." + key + " must be an integer, got " + n);
        }
        return n.asInt();
    }
}
