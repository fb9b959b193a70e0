package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The qwen2_vl family's HF folders: export, import, the key list and config.json fields, hand-written folders. */
class Qwen2VlHfRoundTripTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /** The text keys Qwen2VLConfig (transformers 4.51) reads, flat. */
    private static final List<String> TEXT_KEYS = List.of("vocab_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_act", "max_position_embeddings",
            "initializer_range", "rms_norm_eps", "use_cache", "tie_word_embeddings", "rope_theta", "use_sliding_window",
            "sliding_window", "max_window_layers", "attention_dropout", "rope_scaling");
    private static final List<String> VISION_KEYS = List.of("depth", "embed_dim", "hidden_size", "hidden_act",
            "mlp_ratio", "num_heads", "in_channels", "patch_size", "spatial_merge_size", "temporal_patch_size");

    @ParameterizedTest(name = "tied={0}")
    @ValueSource(booleans = {false, true})
    void exportThenImportGivesBitIdenticalLogits(boolean tied, @TempDir Path dir) throws IOException {
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(tied), "sdpa");
                LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            double[][] pixels = TinyVlm.pixels(model.config().vision(), 3);
            HfCheckpoint.export(model, a, rank.manager(), dir, SafeDType.F32);
            HfCheckpoint.load(model, b, rank.manager(), dir);
            double[] before = TinyVlm.logits(rank.manager(), model, a, DataType.FLOAT32, pixels);
            assertArrayEquals(before, TinyVlm.logits(rank.manager(), model, b, DataType.FLOAT32, pixels));
            double[] other = TinyVlm.logits(rank.manager(), model, new LocalParams(rank.manager(), model.units(),
                    DataType.FLOAT32, 99), DataType.FLOAT32, pixels);
            assertTrue(!Arrays.equals(before, other), "a differently seeded model gives other logits");

            JsonNode config = ModelFamilies.readConfig(dir);
            assertEquals("Qwen2VLForConditionalGeneration", config.get("architectures").get(0).asText());
            assertEquals("qwen2_vl", config.get("model_type").asText());
            for (String key : TEXT_KEYS) {
                assertTrue(config.has(key), "config.json lacks " + key);
            }
            assertEquals(List.of(1, 1, 1), ints(config.get("rope_scaling").get("mrope_section")));
            assertEquals("mrope", config.get("rope_scaling").get("type").asText());
            assertEquals(TinyVlm.IMAGE, config.get("image_token_id").asInt());
            assertEquals(TinyVlm.VIDEO, config.get("video_token_id").asInt());
            assertEquals(TinyVlm.START, config.get("vision_start_token_id").asInt());
            assertEquals(TinyVlm.END, config.get("vision_end_token_id").asInt());
            for (String key : VISION_KEYS) {
                assertTrue(config.get("vision_config").has(key), "vision_config lacks " + key);
            }
            assertEquals(model.config(), Qwen2VlConfigJson.parse(config));
            assertEquals(Qwen2VlFamily.class, ModelFamilies.forConfig(config).getClass());

            try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve(HfCheckpoint.WEIGHTS))) {
                Map<String, List<Long>> shapes = new HashMap<>();
                for (TensorInfo t : reader.tensors()) {
                    shapes.put(t.name(), Arrays.stream(t.shape()).boxed().toList());
                }
                assertEquals(hfKeys(tied), shapes);
            }
        }
    }

    /**
     * Folders written by hand, tensor by tensor from a model's weights, with the text fields flat,
     * nested in text_config (whose values win over contradicting top-level ones), and with HF's
     * published vision key names (in_chans, spatial_patch_size): each imports to exactly those weights.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"flat", "text_config", "published_vision_keys"})
    void handWrittenFoldersImport(String layout, @TempDir Path dir) throws IOException {
        ObjectNode json = TinyVlm.json(false);
        try (Qwen2VlModel model = TinyVlm.model(json, "sdpa");
                LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            ObjectNode written = switch (layout) {
                case "text_config" -> nested(json);
                case "published_vision_keys" -> publishedVisionKeys(json);
                default -> json;
            };
            Files.createDirectories(dir);
            JSON.writeValue(dir.resolve("config.json").toFile(), written);
            SafeTensorsWriter out = new SafeTensorsWriter();
            Map<String, double[]> w = TinyVlm.weights(model, a);
            for (UnitLayout u : model.units()) {
                for (ParamSpec p : u.params()) {
                    out.add(p.name(), SafeDType.F32, p.shape().getShape(), TensorBytes.ofFloats(floats(w.get(p.name()))));
                }
            }
            out.write(dir.resolve(HfCheckpoint.WEIGHTS));
            try (var loaded = ModelFamilies.load(dir, ModelOptions.defaults())) {
                assertEquals(model.config(), ((Qwen2VlModel) loaded).config());
            }
            HfCheckpoint.load(model, b, rank.manager(), dir);
            for (UnitLayout u : model.units()) {
                assertArrayEquals(a.weights(u.name()).toFloatArray(), b.weights(u.name()).toFloatArray(), u.name());
            }
            double[][] pixels = TinyVlm.pixels(model.config().vision(), 3);
            assertArrayEquals(TinyVlm.logits(rank.manager(), model, a, DataType.FLOAT32, pixels),
                    TinyVlm.logits(rank.manager(), model, b, DataType.FLOAT32, pixels));
        }
    }

    @Test
    void badConfigsAreRefusedNamingTheKey() {
        assertRefused(o -> ((ObjectNode) o.get("rope_scaling")).putArray("mrope_section").add(1).add(1).add(2),
                "rope_scaling.mrope_section");
        assertRefused(o -> o.remove("rope_scaling"), "rope_scaling");
        assertRefused(o -> ((ObjectNode) o.get("rope_scaling")).put("type", "yarn"), "rope_scaling type 'yarn'");
        assertRefused(o -> ((ObjectNode) o.get("vision_config")).put("hidden_size", 16), "vision_config.hidden_size");
        assertRefused(o -> ((ObjectNode) o.get("vision_config")).put("hidden_act", "gelu"), "vision_config.hidden_act");
        assertRefused(o -> ((ObjectNode) o.get("vision_config")).put("num_heads", 3), "vision_config.num_heads");
        assertRefused(o -> ((ObjectNode) o.get("vision_config")).put("num_heads", 4), "vision head_dim");
        assertRefused(o -> o.remove("vision_config"), "vision_config");
        assertRefused(o -> o.put("image_token_id", 151655), "image_token_id 151655 is outside the vocabulary");
        assertRefused(o -> o.put("head_dim", 4), "head_dim 4");
        assertRefused(o -> o.put("hidden_act", "gelu"), "hidden_act 'gelu'");
        // text_config wins over the top level: its smaller vocabulary no longer holds the media tokens.
        assertRefused(o -> o.putObject("text_config").put("vocab_size", 20), "image_token_id 28 is outside the vocabulary [0, 20)");
    }

    /** transformers' defaults fill what a config leaves out: rms_norm_eps 1e-5, rope_theta 1e6, the Qwen2-VL token ids. */
    @Test
    void absentKeysTakeTransformersDefaults() {
        ObjectNode o = TinyVlm.json(false);
        o.put("vocab_size", 151936);
        for (String key : List.of("rms_norm_eps", "rope_theta", "image_token_id", "video_token_id",
                "vision_start_token_id", "vision_end_token_id")) {
            o.remove(key);
        }
        Qwen2VlConfig c = Qwen2VlConfigJson.parse(o);
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals(1e6, c.ropeTheta());
        assertEquals(new VlmTokens(151655, 151656, 151652, 151653), c.tokens());
        assertEquals(new VisionGeometry(3, 2, 2, 2), c.geometry());
    }

    private static void assertRefused(Consumer<ObjectNode> change, String named) {
        ObjectNode o = TinyVlm.json(false);
        change.accept(o);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Qwen2VlConfigJson.parse(o));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' does not name " + named);
    }

    /** Every HF tensor name and shape of the tiny model, written out from the list. */
    private static Map<String, List<Long>> hfKeys(boolean tied) {
        Map<String, List<Long>> k = new HashMap<>();
        k.put("visual.patch_embed.proj.weight", List.of(8L, 3L, 2L, 2L, 2L));
        for (int i = 0; i < 2; i++) {
            String b = "visual.blocks." + i + ".";
            for (String norm : List.of("norm1", "norm2")) {
                k.put(b + norm + ".weight", List.of(8L));
                k.put(b + norm + ".bias", List.of(8L));
            }
            k.put(b + "attn.qkv.weight", List.of(24L, 8L));
            k.put(b + "attn.qkv.bias", List.of(24L));
            k.put(b + "attn.proj.weight", List.of(8L, 8L));
            k.put(b + "attn.proj.bias", List.of(8L));
            k.put(b + "mlp.fc1.weight", List.of(16L, 8L));
            k.put(b + "mlp.fc1.bias", List.of(16L));
            k.put(b + "mlp.fc2.weight", List.of(8L, 16L));
            k.put(b + "mlp.fc2.bias", List.of(8L));
        }
        k.put("visual.merger.ln_q.weight", List.of(8L));
        k.put("visual.merger.ln_q.bias", List.of(8L));
        k.put("visual.merger.mlp.0.weight", List.of(32L, 32L));
        k.put("visual.merger.mlp.0.bias", List.of(32L));
        k.put("visual.merger.mlp.2.weight", List.of(12L, 32L));
        k.put("visual.merger.mlp.2.bias", List.of(12L));
        k.put("model.embed_tokens.weight", List.of(32L, 12L));
        for (int i = 0; i < 2; i++) {
            String l = "model.layers." + i + ".";
            k.put(l + "input_layernorm.weight", List.of(12L));
            k.put(l + "self_attn.q_proj.weight", List.of(12L, 12L));
            k.put(l + "self_attn.q_proj.bias", List.of(12L));
            k.put(l + "self_attn.k_proj.weight", List.of(6L, 12L));
            k.put(l + "self_attn.k_proj.bias", List.of(6L));
            k.put(l + "self_attn.v_proj.weight", List.of(6L, 12L));
            k.put(l + "self_attn.v_proj.bias", List.of(6L));
            k.put(l + "self_attn.o_proj.weight", List.of(12L, 12L));
            k.put(l + "post_attention_layernorm.weight", List.of(12L));
            k.put(l + "mlp.gate_proj.weight", List.of(16L, 12L));
            k.put(l + "mlp.up_proj.weight", List.of(16L, 12L));
            k.put(l + "mlp.down_proj.weight", List.of(12L, 16L));
        }
        k.put("model.norm.weight", List.of(12L));
        if (!tied) {
            k.put("lm_head.weight", List.of(32L, 12L));
        }
        return k;
    }

    /**
     * The text fields moved into text_config, as transformers 4.53+ writes it; the top level keeps
     * model_type, the media token ids and vision_config, plus stale text values text_config overrides.
     */
    private static ObjectNode nested(ObjectNode flat) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode text = JSON.createObjectNode();
        List<String> topLevel = List.of("model_type", "image_token_id", "video_token_id", "vision_start_token_id",
                "vision_end_token_id", "vision_config");
        for (var it = flat.fields(); it.hasNext(); ) {
            var e = it.next();
            (topLevel.contains(e.getKey()) ? root : text).set(e.getKey(), e.getValue().deepCopy());
        }
        text.put("model_type", "qwen2_vl_text");
        root.put("num_hidden_layers", 7);
        root.put("rope_theta", 5.0);
        root.set("text_config", text);
        return root;
    }

    private static ObjectNode publishedVisionKeys(ObjectNode flat) {
        ObjectNode o = flat.deepCopy();
        ObjectNode v = (ObjectNode) o.get("vision_config");
        v.set("in_chans", v.remove("in_channels"));
        v.set("spatial_patch_size", v.remove("patch_size"));
        return o;
    }

    private static List<Integer> ints(JsonNode array) {
        List<Integer> values = new ArrayList<>();
        array.forEach(n -> values.add(n.asInt()));
        return values;
    }

    private static float[] floats(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return f;
    }
}
