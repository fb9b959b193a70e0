package ai.omnispark.models.wan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** A diffusers WanTransformer3DModel config.json to and from {@link WanConfig}; diffusers' defaults for absent keys. */
public final class WanConfigJson {
    /** The diffusers version our exports name (the release whose WanTransformer3DModel they follow). */
    public static final String DIFFUSERS_VERSION = "0.33.1";

    private WanConfigJson() {}

    public static WanConfig parse(JsonNode json) {
        String cls = json.path("_class_name").asText("");
        if (!cls.equals(WanConfig.CLASS_NAME)) {
            throw new IllegalArgumentException("a Wan config.json has _class_name " + WanConfig.CLASS_NAME + ", got '"
                    + cls + "'");
        }
        int[] patch = {1, 2, 2};
        JsonNode p = json.get("patch_size");
        if (p != null && !p.isNull()) {
            if (!p.isArray() || p.size() != 3) {
                throw new IllegalArgumentException("patch_size must be a list of 3 ints [pt, ph, pw], got " + p);
            }
            for (int i = 0; i < 3; i++) {
                patch[i] = intValue(p.get(i), "patch_size[" + i + "]");
            }
        }
        return new WanConfig(patch, integer(json, "num_attention_heads", 40), integer(json, "attention_head_dim", 128),
                integer(json, "in_channels", 16), integer(json, "out_channels", 16), integer(json, "text_dim", 4096),
                integer(json, "freq_dim", 256), integer(json, "ffn_dim", 13824), integer(json, "num_layers", 40),
                bool(json, "cross_attn_norm", true), text(json, "qk_norm", "rms_norm_across_heads"),
                number(json, "eps", 1e-6), nullableInt(json, "image_dim"), nullableInt(json, "added_kv_proj_dim"),
                integer(json, "rope_max_seq_len", 1024), nullableInt(json, "pos_embed_seq_len"));
    }

    /** config.json as diffusers writes it, every field WanTransformer3DModel takes. */
    public static ObjectNode toJson(WanConfig c) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("_class_name", WanConfig.CLASS_NAME);
        o.put("_diffusers_version", DIFFUSERS_VERSION);
        ArrayNode patch = o.putArray("patch_size");
        for (int v : c.patchSize()) {
            patch.add(v);
        }
        o.put("num_attention_heads", c.numAttentionHeads());
        o.put("attention_head_dim", c.attentionHeadDim());
        o.put("in_channels", c.inChannels());
        o.put("out_channels", c.outChannels());
        o.put("text_dim", c.textDim());
        o.put("freq_dim", c.freqDim());
        o.put("ffn_dim", c.ffnDim());
        o.put("num_layers", c.numLayers());
        o.put("cross_attn_norm", c.crossAttnNorm());
        if (c.qkNorm() == null) {
            o.putNull("qk_norm");
        } else {
            o.put("qk_norm", c.qkNorm());
        }
        o.put("eps", c.eps());
        putNullable(o, "image_dim", c.imageDim());
        putNullable(o, "added_kv_proj_dim", c.addedKvProjDim());
        o.put("rope_max_seq_len", c.ropeMaxSeqLen());
        putNullable(o, "pos_embed_seq_len", c.posEmbedSeqLen());
        return o;
    }

    private static void putNullable(ObjectNode o, String key, Integer v) {
        if (v == null) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
    }

    private static int integer(JsonNode json, String key, int fallback) {
        JsonNode v = json.get(key);
        return v == null || v.isNull() ? fallback : intValue(v, key);
    }

    private static Integer nullableInt(JsonNode json, String key) {
        JsonNode v = json.get(key);
        return v == null || v.isNull() ? null : intValue(v, key);
    }

    private static int intValue(JsonNode v, String key) {
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException(key + " must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static boolean bool(JsonNode json, String key, boolean fallback) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(key + " must be true or false, got " + v);
        }
        return v.booleanValue();
    }

    private static String text(JsonNode json, String key, String fallback) {
        JsonNode v = json.get(key);
        if (v == null) {
            return fallback;
        }
        return v.isNull() ? null : v.asText();
    }

    private static double number(JsonNode json, String key, double fallback) {
        JsonNode v = json.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException(key + " must be a number, got " + v);
        }
        return v.doubleValue();
    }
}
