package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both adapter forms of a Wan LoRA run, read back: hf_ckpt/ in the original naming with
 * {@code .default.} (keys against the article's list, written out here by hand) and final_lora/ in
 * PEFT's diffusers form, which {@link PeftAdapter#read} accepts; the values bit-identical in both.
 */
class WanLoraExportTest {
    /** diffusers linear (inside a block) → original, by hand from the list. */
    static final Map<String, String> LINEARS = new LinkedHashMap<>();

    static {
        LINEARS.put("attn1.to_q", "self_attn.q");
        LINEARS.put("attn1.to_k", "self_attn.k");
        LINEARS.put("attn1.to_v", "self_attn.v");
        LINEARS.put("attn1.to_out.0", "self_attn.o");
        LINEARS.put("attn2.to_q", "cross_attn.q");
        LINEARS.put("attn2.to_k", "cross_attn.k");
        LINEARS.put("attn2.to_v", "cross_attn.v");
        LINEARS.put("attn2.to_out.0", "cross_attn.o");
        LINEARS.put("attn2.add_k_proj", "cross_attn.k_img");
        LINEARS.put("attn2.add_v_proj", "cross_attn.v_img");
        LINEARS.put("ffn.net.0.proj", "ffn.0");
        LINEARS.put("ffn.net.2", "ffn.2");
    }

    static final int RANK = 4;
    static final double ALPHA = 8;
    static final int DIM = 12;
    static final int FFN = 20;
    static final int IMAGE_DIM = 6;
    static final int BLOCKS = 2;

    @TempDir
    Path dir;

    /** An I2V adapter on every linear kind of {@code BLOCKS} blocks, seeded, by diffusers parameter name. */
    static Map<String, PeftAdapter.Tensor> adapter(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, PeftAdapter.Tensor> tensors = new LinkedHashMap<>();
        for (int b = 0; b < BLOCKS; b++) {
            for (String linear : LINEARS.keySet()) {
                long in = linear.equals("ffn.net.2") ? FFN : linear.startsWith("attn2.add_") ? IMAGE_DIM : DIM;
                long out = linear.equals("ffn.net.0.proj") ? FFN : DIM;
                tensors.put("blocks." + b + "." + linear + ".lora_A.weight", tensor(random, RANK, in));
                tensors.put("blocks." + b + "." + linear + ".lora_B.weight", tensor(random, out, RANK));
            }
        }
        return tensors;
    }

    static PeftConfig config() {
        return new PeftConfig(new LoraConfig(RANK, ALPHA, 0, List.of("to_q", "to_k", "to_v", "to_out.0",
                "ffn.net.0.proj", "ffn.net.2", "add_k_proj", "add_v_proj")), "runs/tiny-i2v/final_hf");
    }

    private static PeftAdapter.Tensor tensor(SplittableRandom random, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return new PeftAdapter.Tensor(new long[] {rows, cols}, v);
    }

    @Test
    void hfCkptHoldsEveryFactorUnderItsOriginalNameWithDefaultAndAConfigDescribingIt() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = adapter(1);
        WanLoraExport.writeHfCkpt(config(), adapter, name -> Files.newOutputStream(dir.resolve(name)));
        List<String> expected = new ArrayList<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve("diffusion_pytorch_model.safetensors"))) {
            for (int b = 0; b < BLOCKS; b++) {
                for (Map.Entry<String, String> l : LINEARS.entrySet()) {
                    for (String factor : List.of("lora_A", "lora_B")) {
                        String key = "blocks." + b + "." + l.getValue() + "." + factor + ".default.weight";
                        expected.add(key);
                        PeftAdapter.Tensor source = adapter.get("blocks." + b + "." + l.getKey() + "." + factor + ".weight");
                        TensorInfo info = reader.info(key);
                        assertEquals(SafeDType.F32, info.dtype(), key);
                        assertArrayEquals(source.shape(), info.shape(), key);
                        assertArrayEquals(source.values(), reader.readFloats(key), 0f, key);
                    }
                }
            }
            assertEquals(expected.size(), reader.tensors().size(), "nothing else in the file");
        }
        JsonNode json = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertEquals(RANK, json.get("r").asInt());
        assertEquals(ALPHA, json.get("lora_alpha").asDouble());
        assertEquals("runs/tiny-i2v/final_hf", json.get("base_model_name_or_path").asText());
        assertEquals("wan-original", json.get("naming").asText());
        assertTrue(json.get("task_type").isNull());
        List<String> targets = new ArrayList<>();
        json.get("target_modules").forEach(t -> targets.add(t.asText()));
        assertEquals(List.of("cross_attn.k", "cross_attn.k_img", "cross_attn.o", "cross_attn.q", "cross_attn.v",
                "cross_attn.v_img", "ffn.0", "ffn.2", "self_attn.k", "self_attn.o", "self_attn.q", "self_attn.v"), targets);
        PeftConfig back = PeftConfig.fromJson(json, "config.json");
        assertEquals(RANK, back.lora().rank());
        assertEquals(ALPHA, back.lora().alpha());
    }

    @Test
    void peftFormIsAPeftAdapterFolderWithTheDiffusersNames() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = adapter(2);
        WanLoraExport.writePeft(config(), adapter, name -> Files.newOutputStream(dir.resolve(name)));
        PeftAdapter.Adapter back = PeftAdapter.read(dir);
        assertEquals(config(), back.config());
        assertEquals(adapter.size(), back.tensors().size());
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            PeftAdapter.Tensor read = back.tensors().get("base_model.model." + t.getKey());
            assertArrayEquals(t.getValue().shape(), read.shape(), t.getKey());
            assertArrayEquals(t.getValue().values(), read.values(), 0f, t.getKey());
        }
        assertTrue(back.tensors().containsKey("base_model.model.blocks.1.attn1.to_q.lora_A.weight"));
        assertTrue(back.tensors().containsKey("base_model.model.blocks.0.ffn.net.0.proj.lora_B.weight"));
        JsonNode json = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
        assertTrue(json.get("task_type").isNull(), "a DiT adapter is no CAUSAL_LM: " + json);
    }

    @Test
    void badAdaptersAreRefusedNamingTheTensor() {
        Map<String, PeftAdapter.Tensor> unknown = new LinkedHashMap<>(adapter(3));
        unknown.put("blocks.0.attn1.norm_q.lora_A.weight", new PeftAdapter.Tensor(new long[] {RANK, DIM}, new float[RANK * DIM]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WanLoraExport.writePeft(config(), unknown, name -> Files.newOutputStream(dir.resolve(name))));
        assertTrue(e.getMessage().contains("blocks.0.attn1.norm_q.lora_A.weight"), e.getMessage());

        Map<String, PeftAdapter.Tensor> unpaired = new LinkedHashMap<>(adapter(3));
        unpaired.remove("blocks.1.ffn.net.2.lora_B.weight");
        e = assertThrows(IllegalArgumentException.class,
                () -> WanLoraExport.writeHfCkpt(config(), unpaired, name -> Files.newOutputStream(dir.resolve(name))));
        assertTrue(e.getMessage().contains("blocks.1.ffn.net.2.lora_A.weight but not blocks.1.ffn.net.2.lora_B.weight"),
                e.getMessage());

        Map<String, PeftAdapter.Tensor> wrongRank = new LinkedHashMap<>(adapter(3));
        wrongRank.put("blocks.0.attn1.to_q.lora_A.weight", new PeftAdapter.Tensor(new long[] {RANK + 1, DIM},
                new float[(RANK + 1) * DIM]));
        e = assertThrows(IllegalArgumentException.class,
                () -> WanLoraExport.writeHfCkpt(config(), wrongRank, name -> Files.newOutputStream(dir.resolve(name))));
        assertTrue(e.getMessage().contains("blocks.0.attn1.to_q.lora_A.weight has shape [5, 12]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> WanLoraExport.writeHfCkpt(config(), Map.of(), name -> Files.newOutputStream(dir.resolve(name))));
        assertEquals("blocks.3.cross_attn.v_img.lora_B.default.weight",
                WanLoraExport.hfCkptKey("blocks.3.attn2.add_v_proj.lora_B.weight"));
    }
}
