package ai.omnispark.models.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PEFT adapter folders: write then read back, a hand-made folder in PEFT's layout, and folders that are not one. */
class PeftAdapterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final LoraConfig LORA = new LoraConfig(2, 16, 0.05, List.of("q_proj", "down_proj"));
    /** Internal names "layers.i.<linear>.lora_X.weight" as a family's state-dict adapter would map them. */
    private static final UnaryOperator<String> TO_PEFT = name -> PeftAdapter.KEY_PREFIX + "model." + name
            .replace(".q_proj", ".self_attn.q_proj").replace(".down_proj", ".mlp.down_proj");

    private static RankContext rank;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /** Two layers, each with an adapter unit for q_proj (8 -> 8) and down_proj (12 -> 8). */
    private static List<UnitLayout> adapterUnits() {
        List<UnitLayout> units = new ArrayList<>();
        for (int layer = 0; layer < 2; layer++) {
            List<ParamSpec> specs = new ArrayList<>(LoraAdapters.specs(LORA, "layers." + layer + ".q_proj", 8, 8));
            specs.addAll(LoraAdapters.specs(LORA, "layers." + layer + ".down_proj", 12, 8));
            units.add(new UnitLayout(LoraAdapters.unitOf("layers." + layer), specs));
        }
        return units;
    }

    /** Random values in every element, B included (a fresh adapter's B is all zero and would hide swaps). */
    private static void randomise(LocalParams params, List<UnitLayout> units, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (UnitLayout u : units) {
            float[] v = new float[(int) u.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextGaussian();
            }
            try (NDManager scope = rank.manager().newSubManager()) {
                params.loadFullWeights(u.name(), scope.create(v));
            }
        }
    }

    private void writeFolder(Path dir, List<UnitLayout> units, LocalParams params, PeftConfig config) throws IOException {
        Files.createDirectories(dir);
        PeftAdapter.write(config, PeftAdapter.weights(units, params, rank.manager(), LORA.rank(), TO_PEFT),
                name -> Files.newOutputStream(dir.resolve(name)));
    }

    @Test
    void writeThenReadGivesTheSameConfigAndBitEqualTensors() throws IOException {
        List<UnitLayout> units = adapterUnits();
        Path dir = tmp.resolve("final_lora");
        PeftConfig config = new PeftConfig(LORA, "/runs/tiny/final_hf");
        try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT32, 1);
                LocalParams loaded = new LocalParams(rank.manager(), units, DataType.FLOAT32, 2)) {
            randomise(params, units, 7);
            writeFolder(dir, units, params, config);

            JsonNode json = JSON.readTree(dir.resolve(PeftAdapter.CONFIG).toFile());
            assertEquals("LORA", json.get("peft_type").asText());
            assertEquals("CAUSAL_LM", json.get("task_type").asText());
            assertEquals(2, json.get("r").asInt());
            assertTrue(json.get("lora_alpha").isIntegralNumber(), "whole alpha written as an int: " + json.get("lora_alpha"));
            assertEquals(16, json.get("lora_alpha").asInt());
            assertEquals(0.05, json.get("lora_dropout").asDouble());
            assertEquals("[\"q_proj\",\"down_proj\"]", json.get("target_modules").toString());
            assertEquals("/runs/tiny/final_hf", json.get("base_model_name_or_path").asText());
            assertEquals("none", json.get("bias").asText());

            PeftAdapter.Adapter adapter = PeftAdapter.read(dir);
            assertEquals(config, adapter.config());
            assertEquals(8, adapter.tensors().size());
            for (UnitLayout u : units) {
                float[] flat = params.weights(u.name()).toFloatArray();
                for (ParamSpec p : u.params()) {
                    PeftAdapter.Tensor t = adapter.tensors().get(TO_PEFT.apply(p.name()));
                    assertArrayEquals(p.shape().getShape(), t.shape(), p.name());
                    int at = (int) u.offset(p.name());
                    assertArrayEquals(Arrays.copyOfRange(flat, at, at + (int) p.numel()), t.values(), 0f,
                            p.name());
                }
            }
            assertTrue(adapter.tensors().containsKey("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
            assertArrayEquals(new long[] {8, 2},
                    adapter.tensors().get("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape());
            assertArrayEquals(new long[] {2, 12},
                    adapter.tensors().get("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight").shape());

            assertEquals(config, PeftAdapter.load(dir, units, loaded, rank.manager(), TO_PEFT));
            for (UnitLayout u : units) {
                assertArrayEquals(params.weights(u.name()).toFloatArray(), loaded.weights(u.name()).toFloatArray(), 0f,
                        u.name());
            }
        }
    }

    /** A folder laid out as PEFT's save_pretrained writes it, bytes made here without SafeTensorsWriter. */
    @Test
    void readsAHandMadePeftFolder() throws IOException {
        Path dir = tmp.resolve("peft");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), "{\n"
                + "  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n"
                + "  \"base_model_name_or_path\": \"Qwen/Qwen2.5-0.5B\",\n  \"bias\": \"none\",\n"
                + "  \"fan_in_fan_out\": false,\n  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n"
                + "  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n  \"loftq_config\": {},\n"
                + "  \"lora_alpha\": 3,\n  \"lora_dropout\": 0.1,\n  \"megatron_config\": null,\n"
                + "  \"modules_to_save\": null,\n  \"peft_type\": \"LORA\",\n  \"r\": 1,\n  \"rank_pattern\": {},\n"
                + "  \"revision\": null,\n  \"target_modules\": [\"v_proj\"],\n  \"task_type\": \"CAUSAL_LM\",\n"
                + "  \"use_dora\": false,\n  \"use_rslora\": false\n}\n");
        // A: [1, 3] = {1, 2, 3}; B: [2, 1] = {-0.5, 4}. Header in file order B then A, as keys sort.
        String a = "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight";
        String b = "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight";
        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"" + a
                + "\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[8,20]},\"" + b
                + "\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + h.length + 20).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(h.length).put(h);
        for (float v : new float[] {-0.5f, 4f, 1f, 2f, 3f}) {
            file.putFloat(v);
        }
        Files.write(dir.resolve("adapter_model.safetensors"), file.array());

        PeftAdapter.Adapter adapter = PeftAdapter.read(dir);
        assertEquals(new PeftConfig(new LoraConfig(1, 3, 0.1, List.of("v_proj")), "Qwen/Qwen2.5-0.5B"), adapter.config());
        assertEquals(3.0, adapter.config().lora().scale());
        assertArrayEquals(new long[] {1, 3}, adapter.tensors().get(a).shape());
        assertArrayEquals(new float[] {1, 2, 3}, adapter.tensors().get(a).values(), 0f);
        assertArrayEquals(new long[] {2, 1}, adapter.tensors().get(b).shape());
        assertArrayEquals(new float[] {-0.5f, 4}, adapter.tensors().get(b).values(), 0f);
    }

    @Test
    void configWithoutBaseModelRoundTrips() {
        PeftConfig config = new PeftConfig(new LoraConfig(4, 2.5, 0, List.of("o_proj")), null);
        JsonNode json = config.toJson();
        assertTrue(json.get("base_model_name_or_path").isNull());
        assertEquals(2.5, json.get("lora_alpha").asDouble());
        PeftConfig back = PeftConfig.fromJson(json, "x");
        assertEquals(config, back);
        assertNull(back.baseModel());
    }

    private String failure(Path dir) {
        return assertThrows(IOException.class, () -> PeftAdapter.read(dir)).getMessage();
    }

    /** Writes a good folder, then lets {@code spoil} change its config JSON. */
    private Path folderWithConfig(String name, Consumer<ObjectNode> spoil)
            throws IOException {
        List<UnitLayout> units = adapterUnits();
        Path dir = tmp.resolve(name);
        try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT32, 1)) {
            writeFolder(dir, units, params, new PeftConfig(LORA, "base"));
        }
        var json = (ObjectNode) JSON.readTree(dir.resolve(PeftAdapter.CONFIG).toFile());
        spoil.accept(json);
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), json.toString());
        return dir;
    }

    @Test
    void foldersThatAreNotPlainLoraAdaptersFailNamingWhy() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertTrue(failure(empty).contains("is not a PEFT adapter folder: it has no adapter_config.json"), failure(empty));

        Path noWeights = folderWithConfig("noWeights", j -> {});
        Files.delete(noWeights.resolve(PeftAdapter.WEIGHTS));
        Files.write(noWeights.resolve("adapter_model.bin"), new byte[] {0});
        assertTrue(failure(noWeights).contains("has no adapter_model.safetensors (it has adapter_model.bin"),
                failure(noWeights));

        Map<String, Consumer<ObjectNode>> spoilt = Map.of(
                "has peft_type PREFIX_TUNING; only LORA", j -> j.put("peft_type", "PREFIX_TUNING"),
                "has use_dora: true; DoRA", j -> j.put("use_dora", true),
                "has use_rslora: true", j -> j.put("use_rslora", true),
                "has fan_in_fan_out: true", j -> j.put("fan_in_fan_out", true),
                "a regular expression", j -> j.put("target_modules", ".*\\.(q|v)_proj"),
                "has bias \"all\"", j -> j.put("bias", "all"),
                "has modules_to_save [\"lm_head\"]", j -> j.putArray("modules_to_save").add("lm_head"),
                "r must be a positive integer, got 0", j -> j.put("r", 0),
                "has task_type \"SEQ_CLS\"", j -> j.put("task_type", "SEQ_CLS"));
        for (var e : spoilt.entrySet()) {
            Path dir = folderWithConfig("spoilt" + Math.abs(e.getKey().hashCode()), e.getValue());
            String m = failure(dir);
            assertTrue(m.contains(e.getKey()) && m.contains(PeftAdapter.CONFIG), "expected '" + e.getKey() + "' in: " + m);
        }

        // r in the config disagrees with the tensors' shapes.
        Path wrongRank = folderWithConfig("wrongRank", j -> j.put("r", 3));
        String m = failure(wrongRank);
        assertTrue(m.contains("has shape [2, 12]; with r = 3 it must be [3, in]") || m.contains("with r = 3 it must be [out, 3]"), m);
    }

    private static void writeSafetensors(Path file, Map<String, long[]> shapes, String dtype) throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter();
        for (var e : shapes.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            SafeDType safe = SafeDType.fromId(dtype);
            writer.add(e.getKey(), safe, e.getValue(), ByteBuffer.allocate((int) n * safe.byteSize()));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writer.write(out);
        Files.write(file, out.toByteArray());
    }

    @Test
    void badTensorsFailNamingTheTensor() throws IOException {
        Path dir = folderWithConfig("tensors", j -> {});
        Path file = dir.resolve(PeftAdapter.WEIGHTS);
        String a = "base_model.model.x.q_proj.lora_A.weight";
        String b = "base_model.model.x.q_proj.lora_B.weight";

        writeSafetensors(file, Map.of(a, new long[] {2, 4}), "F32");
        String m = failure(dir);
        assertTrue(m.contains("has " + a + " but not " + b), m);

        writeSafetensors(file, Map.of("model.x.q_proj.lora_A.weight", new long[] {2, 4}), "F32");
        m = failure(dir);
        assertTrue(m.contains("PEFT key model.x.q_proj.lora_A.weight is not base_model.model.<linear>"), m);

        writeSafetensors(file, Map.of(a, new long[] {2, 4}, b, new long[] {2, 6}), "F32");
        m = failure(dir);
        assertTrue(m.contains(b + " has shape [2, 6]; with r = 2 it must be [out, 2]"), m);

        writeSafetensors(file, Map.of(a, new long[] {2, 4}, b, new long[] {6, 2}), "F16");
        m = failure(dir);
        assertTrue(m.contains("is F16; only F32 adapters are read"), m);

        // Well-formed, but for another model: load names the missing and the extra tensor.
        writeSafetensors(file, Map.of(a, new long[] {2, 4}, b, new long[] {6, 2}), "F32");
        List<UnitLayout> units = adapterUnits();
        try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT32, 1)) {
            m = assertThrows(IOException.class, () -> PeftAdapter.load(dir, units, params, rank.manager(), TO_PEFT))
                    .getMessage();
            assertTrue(m.contains("lacks tensor base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), m);
            m = assertThrows(IOException.class, () -> PeftAdapter.load(dir, List.of(), params, rank.manager(), TO_PEFT))
                    .getMessage();
            assertTrue(m.contains("has tensor base_model.model.x.q_proj.lora_"), m);
            m = assertThrows(IOException.class, () -> PeftAdapter.load(dir,
                    List.of(new UnitLayout("u", LoraAdapters.specs(LORA, "x.q_proj", 5, 6))), params, rank.manager(),
                    n -> PeftAdapter.KEY_PREFIX + n)).getMessage();
            assertTrue(m.contains(a + " has shape [2, 4], the model needs (2, 5)"), m);
        }
    }
}
