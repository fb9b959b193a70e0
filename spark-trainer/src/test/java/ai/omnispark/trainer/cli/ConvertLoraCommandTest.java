package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.models.wan.WanLoraExport;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert-lora} through {@link Main#run}, on both forms a Wan LoRA run writes (hf_ckpt/ in the
 * original naming with {@code .default.}, final_lora/ in PEFT's diffusers naming) and on an
 * article-style file with flags: every output key checked against the mapping written out here by
 * hand (prefix {@code diffusion_model.}, original names, no {@code .default.}), A unchanged and B
 * multiplied by alpha/r; and the ways an input is refused.
 */
class ConvertLoraCommandTest {
    /** diffusers linear inside a block → original name (the issue's list). */
    private static final Map<String, String> LINEARS = new LinkedHashMap<>();

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

    private static final int RANK = 4;
    private static final double ALPHA = 6;
    private static final int BLOCKS = 3;

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run main(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** A seeded I2V adapter on every linear kind, by diffusers parameter name. */
    private static Map<String, PeftAdapter.Tensor> adapter(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, PeftAdapter.Tensor> tensors = new LinkedHashMap<>();
        for (int b = 0; b < BLOCKS; b++) {
            for (String linear : LINEARS.keySet()) {
                long in = linear.equals("ffn.net.2") ? 24 : linear.startsWith("attn2.add_") ? 10 : 16;
                long out = linear.equals("ffn.net.0.proj") ? 24 : 16;
                tensors.put("blocks." + b + "." + linear + ".lora_A.weight", tensor(random, RANK, in));
                tensors.put("blocks." + b + "." + linear + ".lora_B.weight", tensor(random, out, RANK));
            }
        }
        return tensors;
    }

    private static PeftAdapter.Tensor tensor(SplittableRandom random, long rows, long cols) {
        float[] v = new float[(int) (rows * cols)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return new PeftAdapter.Tensor(new long[] {rows, cols}, v);
    }

    private static PeftConfig config() {
        return new PeftConfig(new LoraConfig(RANK, ALPHA, 0, List.of("to_q", "to_k", "to_v", "to_out.0",
                "ffn.net.0.proj", "ffn.net.2", "add_k_proj", "add_v_proj")), "base");
    }

    /**
     * Checks {@code output} holds exactly the style-B key of every factor of {@code adapter}: A
     * bit-identical, B times {@code scale} (computed here in float64, within float32 rounding).
     */
    private static void assertStyleB(Path output, Map<String, PeftAdapter.Tensor> adapter, double scale)
            throws IOException {
        Set<String> expected = new HashSet<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(output)) {
            for (int b = 0; b < BLOCKS; b++) {
                for (Map.Entry<String, String> l : LINEARS.entrySet()) {
                    for (String factor : List.of("lora_A", "lora_B")) {
                        String key = "diffusion_model.blocks." + b + "." + l.getValue() + "." + factor + ".weight";
                        expected.add(key);
                        PeftAdapter.Tensor source = adapter.get("blocks." + b + "." + l.getKey() + "." + factor
                                + ".weight");
                        TensorInfo info = reader.info(key);
                        assertArrayEquals(source.shape(), info.shape(), key);
                        float[] got = reader.readFloats(key);
                        for (int i = 0; i < got.length; i++) {
                            double want = factor.equals("lora_A") ? source.values()[i] : source.values()[i] * scale;
                            assertEquals(want, got[i], factor.equals("lora_A") ? 0 : Math.abs(want) * 1e-7, key + "[" + i + "]");
                        }
                    }
                }
            }
            Set<String> keys = new HashSet<>();
            for (TensorInfo t : reader.tensors()) {
                keys.add(t.name());
                assertTrue(t.name().startsWith("diffusion_model.blocks."), t.name());
                assertFalse(t.name().contains(".default."), t.name());
                assertFalse(t.name().contains("attn1") || t.name().contains("attn2") || t.name().contains("to_"),
                        "a diffusers name survived: " + t.name());
            }
            assertEquals(expected, keys);
        }
    }

    @Test
    void hfCkptFormConvertsByPrefixingAndDroppingDefaultWithBScaled() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = adapter(11);
        Path hfCkpt = Files.createDirectories(dir.resolve("global_step_300").resolve("hf_ckpt"));
        WanLoraExport.writeHfCkpt(config(), adapter, name -> Files.newOutputStream(hfCkpt.resolve(name)));
        Path input = hfCkpt.resolve("diffusion_pytorch_model.safetensors");
        Run r = main("convert-lora", input.toString());
        assertEquals(0, r.code(), r.err());
        Path output = hfCkpt.resolve("diffusion_pytorch_model_styleB.safetensors");
        assertEquals(output.toString(), r.out().strip());
        assertTrue(r.err().contains("alpha/r = 6.0/4"), r.err());
        assertStyleB(output, adapter, ALPHA / RANK);
    }

    @Test
    void peftFormIsRenamedToTheOriginalNames() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = adapter(12);
        Path finalLora = Files.createDirectories(dir.resolve("final_lora"));
        WanLoraExport.writePeft(config(), adapter, name -> Files.newOutputStream(finalLora.resolve(name)));
        Run r = main("convert-lora", finalLora.resolve("adapter_model.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        Path output = finalLora.resolve("adapter_model_styleB.safetensors");
        assertEquals(output.toString(), r.out().strip());
        assertTrue(r.err().contains("renamed from diffusers names"), r.err());
        assertStyleB(output, adapter, ALPHA / RANK);
    }

    /**
     * The article's input with no config beside it: original names, some already prefixed, some
     * with .default., in BF16; alpha and rank from the flags.
     */
    @Test
    void aBareAdapterTakesAlphaAndRankFromTheFlags() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = adapter(13);
        SafeTensorsWriter writer = new SafeTensorsWriter();
        int n = 0;
        Map<String, PeftAdapter.Tensor> bf16Exact = new LinkedHashMap<>();
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            String[] parts = t.getKey().split("\\.lora_");
            String module = parts[0];
            String linear = module.substring(module.indexOf('.', "blocks.".length()) + 1);
            String original = module.substring(0, module.length() - linear.length()) + LINEARS.get(linear);
            String key = (n % 3 == 0 ? "diffusion_model." : "") + original + ".lora_" + parts[1].charAt(0)
                    + (n % 2 == 0 ? ".default" : "") + ".weight";
            n++;
            float[] v = t.getValue().values();
            short[] bits = new short[v.length];
            float[] exact = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                bits[i] = (short) (Float.floatToIntBits(v[i]) >>> 16);
                exact[i] = Float.intBitsToFloat((bits[i] & 0xFFFF) << 16);
            }
            bf16Exact.put(t.getKey(), new PeftAdapter.Tensor(t.getValue().shape(), exact));
            writer.add(key, SafeDType.BF16, t.getValue().shape(), TensorBytes.ofShorts(bits));
        }
        Path input = dir.resolve("wan_lora.safetensors");
        writer.write(input);
        Run missing = main("convert-lora", input.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("give --alpha A --rank R"), missing.err());
        Run r = main("convert-lora", input.toString(), "--alpha", "16", "--rank", "4");
        assertEquals(0, r.code(), r.err());
        assertEquals(dir.resolve("wan_lora_styleB.safetensors").toString(), r.out().strip());
        assertStyleB(dir.resolve("wan_lora_styleB.safetensors"), bf16Exact, 16.0 / 4);
        Run onlyAlpha = main("convert-lora", input.toString(), "--alpha", "16");
        assertEquals(2, onlyAlpha.code());
        assertTrue(onlyAlpha.err().contains("give --alpha and --rank together"), onlyAlpha.err());
    }

    @Test
    void badInputsAreRefusedSayingWhatIsWrong() throws IOException {
        Path notSafetensors = dir.resolve("notes.safetensors");
        Files.writeString(notSafetensors, "hello");
        assertRefused(main("convert-lora", notSafetensors.toString(), "--alpha", "1", "--rank", "4"),
                "is not a safetensors file");
        assertRefused(main("convert-lora", dir.resolve("adapter.bin").toString()), "is not a .safetensors file");
        assertRefused(main("convert-lora", dir.resolve("absent.safetensors").toString()), "does not exist");
        assertRefused(main("convert-lora"), "convert-lora takes one IN.safetensors");
        assertRefused(main("convert-lora", "x.safetensors", "--rank", "0", "--alpha", "1"), "--rank must be > 0");
        assertRefused(main("convert-lora", "x.safetensors", "--rank", "4", "--alpha", "big"), "--alpha must be a number");

        // a full model's weights, not an adapter
        Path full = Files.createDirectories(dir.resolve("full")).resolve("diffusion_pytorch_model.safetensors");
        new SafeTensorsWriter().add("blocks.0.attn1.to_q.weight", SafeDType.F32, new long[] {2, 2},
                TensorBytes.ofFloats(new float[4])).write(full);
        Files.writeString(full.resolveSibling("config.json"), "{\"_class_name\": \"WanTransformer3DModel\"}");
        assertRefused(main("convert-lora", full.toString()), "config.json is not an adapter config");
        assertRefused(main("convert-lora", full.toString(), "--alpha", "1", "--rank", "2"),
                "key 'blocks.0.attn1.to_q.weight' is not a LoRA factor of a Wan linear");

        // A without B, and a rank that disagrees with the config
        Map<String, PeftAdapter.Tensor> adapter = adapter(14);
        Path unpaired = Files.createDirectories(dir.resolve("unpaired"));
        WanLoraExport.writePeft(config(), adapter, name -> Files.newOutputStream(unpaired.resolve(name)));
        SafeTensorsWriter onlyA = new SafeTensorsWriter();
        onlyA.add("base_model.model.blocks.0.attn1.to_q.lora_A.weight", SafeDType.F32, new long[] {RANK, 16},
                TensorBytes.ofFloats(new float[RANK * 16]));
        onlyA.write(unpaired.resolve("adapter_model.safetensors"));
        assertRefused(main("convert-lora", unpaired.resolve("adapter_model.safetensors").toString()),
                "has base_model.model.blocks.0.attn1.to_q.lora_A.weight but no matching lora_B");
        Path wrongRank = Files.createDirectories(dir.resolve("rank"));
        WanLoraExport.writePeft(config(), adapter, name -> Files.newOutputStream(wrongRank.resolve(name)));
        Files.writeString(wrongRank.resolve("adapter_config.json"), Files.readString(wrongRank.resolve(
                "adapter_config.json")).replace("\"r\" : 4", "\"r\" : 8"));
        assertRefused(main("convert-lora", wrongRank.resolve("adapter_model.safetensors").toString()),
                "has shape [4, 16]; with r = 8");
        assertRefused(main("convert-lora", wrongRank.resolve("adapter_model.safetensors").toString(), "--alpha", "6",
                "--rank", "4"), "disagree with");
        assertFalse(Files.exists(wrongRank.resolve("adapter_model_styleB.safetensors")), "nothing written on refusal");
    }

    @Test
    void helpListsConvertLora() {
        Run r = main("help");
        assertTrue(r.out().contains("  convert-lora IN.safetensors"), r.out());
    }

    private static void assertRefused(Run r, String why) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(why), "expected '" + why + "' in: " + r.err());
    }
}
