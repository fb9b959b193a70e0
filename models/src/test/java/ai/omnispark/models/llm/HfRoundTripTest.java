package ai.omnispark.models.llm;

import ai.omnispark.models.hf.HfCheckpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HfRoundTripTest {
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

    private static DecoderConfig config(String family, boolean tied, boolean bias) {
        return DecoderConfig.builder().family(family).vocabSize(31).hiddenSize(16).intermediateSize(24)
                .numLayers(2).numHeads(4).numKvHeads(2).headDim(8).tieWordEmbeddings(tied).attentionBias(bias)
                .ropeTheta(1000).bosTokenId(1).eosTokenId(2).build();
    }

    private static float[] logits(DecoderLM model, LocalParams params, int[] ids) {
        return TinyModels.logits(rank.manager(), model, params, ids);
    }

    @ParameterizedTest(name = "{0} tied={1} bias={2}")
    @CsvSource({"qwen3,true,false", "qwen2,false,false", "llama,false,true", "llama,true,false"})
    void exportThenImportGivesBitIdenticalLogits(String family, boolean tied, boolean bias, @TempDir Path dir)
            throws IOException {
        DecoderLM model = new DecoderLM(config(family, tied, bias));
        int[] ids = {1, 5, 9, 30, 2, 7};
        try (LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            HfCheckpoint.export(model, a, rank.manager(), dir, SafeDType.F32);
            assertTrue(Files.isRegularFile(dir.resolve("config.json")));
            assertTrue(Files.isRegularFile(dir.resolve("generation_config.json")));
            DecoderConfig reread = DecoderConfigJson.read(dir);
            assertEquals(model.config(), reread);
            HfCheckpoint.load(model, b, rank.manager(), dir);
            assertArrayEquals(logits(model, a, ids), logits(model, b, ids));
            try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve(HfCheckpoint.WEIGHTS))) {
                List<String> names = new ArrayList<>();
                for (TensorInfo t : reader.tensors()) {
                    names.add(t.name());
                }
                assertTrue(names.contains("model.embed_tokens.weight"));
                assertTrue(names.contains("model.layers.1.mlp.down_proj.weight"));
                assertEquals(!tied, names.contains("lm_head.weight"));
                assertEquals(family.equals("qwen3"), names.contains("model.layers.0.self_attn.q_norm.weight"));
                assertEquals(family.equals("qwen2") || bias, names.contains("model.layers.0.self_attn.k_proj.bias"));
            }
        }
    }

    /**
     * An F16 export holds each weight rounded to half precision: within half an F16 ulp of the fp32
     * weight (2^-11 relative for normal halves, 2^-25 absolute below them), and importing it gives
     * exactly the stored halves as decoded by hand.
     */
    @Test
    void halfPrecisionExportRoundsEachWeightOnce(@TempDir Path dir) throws IOException {
        DecoderLM model = new DecoderLM(config("qwen3", false, false));
        try (LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            HfCheckpoint.export(model, a, rank.manager(), dir, SafeDType.F16);
            HfCheckpoint.load(model, b, rank.manager(), dir);
            try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve(HfCheckpoint.WEIGHTS))) {
                for (UnitLayout unit : model.units()) {
                    float[] original = a.weights(unit.name()).toFloatArray();
                    float[] imported = b.weights(unit.name()).toFloatArray();
                    for (ParamSpec p : unit.params()) {
                        assertEquals(SafeDType.F16, reader.info(p.name()).dtype(), p.name());
                        ByteBuffer halves = reader.read(p.name());
                        for (int i = 0; i < p.numel(); i++) {
                            int at = (int) unit.offset(p.name()) + i;
                            int bits = halves.getShort() & 0xFFFF;
                            int e = (bits >>> 10) & 0x1F;
                            int m = bits & 0x3FF;
                            double magnitude = e == 0 ? m * Math.pow(2, -24) : Math.pow(2, e - 15) * (1 + m / 1024.0);
                            double stored = (bits & 0x8000) != 0 ? -magnitude : magnitude;
                            assertEquals(stored, imported[at], 0.0, p.name() + "[" + i + "] imported");
                            double bound = Math.max(Math.abs(original[at]) * 0x1p-11, 0x1p-25);
                            assertEquals(original[at], stored, bound, p.name() + "[" + i + "] rounded once");
                        }
                    }
                }
            }
        }
    }

    /**
     * A HF folder written independently of the model code, tensor by tensor, in HF naming, with
     * every element stored in {@code dtype}'s own encoding (F16 and BF16 as 16-bit patterns). Returns
     * each tensor's values as decoded by hand in float64 from those bits.
     */
    private static java.util.Map<String, double[]> writeRandomHfFolder(Path dir, String family, SafeDType dtype,
            SplittableRandom random) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.put("model_type", family);
        c.put("vocab_size", 40);
        c.put("hidden_size", 16);
        c.put("intermediate_size", 20);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 2);
        c.put("num_key_value_heads", 1);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 500000.0);
        c.put("tie_word_embeddings", false);
        c.put("hidden_act", "silu");
        c.put("torch_dtype", dtype == SafeDType.F16 ? "float16" : dtype == SafeDType.BF16 ? "bfloat16" : "float32");
        json.writeValue(dir.resolve("config.json").toFile(), c);
        SafeTensorsWriter w = new SafeTensorsWriter();
        java.util.Map<String, double[]> expected = new java.util.LinkedHashMap<>();
        int hd = 8;
        add(w, expected, dtype, "model.embed_tokens.weight", random, 40, 16);
        add(w, expected, dtype, "lm_head.weight", random, 40, 16);
        add(w, expected, dtype, "model.norm.weight", random, 16);
        for (int i = 0; i < 2; i++) {
            String p = "model.layers." + i + ".";
            add(w, expected, dtype, p + "input_layernorm.weight", random, 16);
            add(w, expected, dtype, p + "post_attention_layernorm.weight", random, 16);
            add(w, expected, dtype, p + "self_attn.q_proj.weight", random, 2 * hd, 16);
            add(w, expected, dtype, p + "self_attn.k_proj.weight", random, hd, 16);
            add(w, expected, dtype, p + "self_attn.v_proj.weight", random, hd, 16);
            add(w, expected, dtype, p + "self_attn.o_proj.weight", random, 16, 2 * hd);
            if (family.equals("qwen2")) {
                add(w, expected, dtype, p + "self_attn.q_proj.bias", random, 2 * hd);
                add(w, expected, dtype, p + "self_attn.k_proj.bias", random, hd);
                add(w, expected, dtype, p + "self_attn.v_proj.bias", random, hd);
            }
            if (family.equals("qwen3")) {
                add(w, expected, dtype, p + "self_attn.q_norm.weight", random, hd);
                add(w, expected, dtype, p + "self_attn.k_norm.weight", random, hd);
            }
            add(w, expected, dtype, p + "mlp.gate_proj.weight", random, 20, 16);
            add(w, expected, dtype, p + "mlp.up_proj.weight", random, 20, 16);
            add(w, expected, dtype, p + "mlp.down_proj.weight", random, 16, 20);
        }
        w.write(dir.resolve("model.safetensors"));
        return expected;
    }

    /**
     * Random elements as raw bit patterns of {@code dtype}: F32 from a Gaussian; F16 and BF16 with a
     * random sign, mantissa and an exponent giving magnitudes of about 1e-5 to 2 (F16 includes
     * subnormals). The expected value is decoded from the fields in float64, sign x 2^e x 1.m.
     */
    private static void add(SafeTensorsWriter w, java.util.Map<String, double[]> expected, SafeDType dtype,
            String name, SplittableRandom random, long... shape) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        double[] values = new double[n];
        ByteBuffer b = ByteBuffer.allocate(n * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (dtype) {
                case F32 -> {
                    float v = (float) (random.nextGaussian() * 0.2);
                    b.putFloat(v);
                    values[i] = v;
                }
                case F16 -> {
                    int sign = random.nextInt(2);
                    int exponent = random.nextInt(0, 16); // 0: subnormal; 15: [1, 2)
                    int mantissa = random.nextInt(1 << 10);
                    b.putShort((short) (sign << 15 | exponent << 10 | mantissa));
                    double magnitude = exponent == 0 ? mantissa * Math.pow(2, -24)
                            : Math.pow(2, exponent - 15) * (1 + mantissa / 1024.0);
                    values[i] = sign == 1 ? -magnitude : magnitude;
                }
                case BF16 -> {
                    int sign = random.nextInt(2);
                    int exponent = random.nextInt(110, 128); // 2^-17 .. [1, 2)
                    int mantissa = random.nextInt(1 << 7);
                    b.putShort((short) (sign << 15 | exponent << 7 | mantissa));
                    double magnitude = Math.pow(2, exponent - 127) * (1 + mantissa / 128.0);
                    values[i] = sign == 1 ? -magnitude : magnitude;
                }
                default -> throw new IllegalArgumentException("no test encoding for " + dtype);
            }
        }
        b.flip();
        w.add(name, dtype, shape, b);
        expected.put(name, values);
    }

    /**
     * Every stored value of F32, F16 and BF16 is exactly representable in fp32, so the imported
     * weights must equal the hand-decoded float64 values exactly (tolerance 0). BF16 is decoded in
     * Java: a BF16 tensor on DJL's CPU engine would kill the JVM.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"llama,F32", "qwen2,F32", "qwen3,F32", "llama,F16", "qwen2,F16", "qwen3,BF16", "llama,BF16"})
    void importsAHfFolderWrittenByHand(String family, SafeDType dtype, @TempDir Path dir) throws IOException {
        java.util.Map<String, double[]> expected = writeRandomHfFolder(dir, family, dtype,
                new SplittableRandom(family.hashCode() + dtype.ordinal()));
        try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve("model.safetensors"))) {
            for (TensorInfo t : reader.tensors()) {
                assertEquals(dtype, t.dtype(), t.name() + " is stored as " + dtype);
            }
        }
        DecoderConfig config = DecoderConfigJson.read(dir);
        assertEquals(family, config.family());
        assertEquals(8, config.headDim());
        DecoderLM model = new DecoderLM(config);
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 0)) {
            HfCheckpoint.load(model, params, rank.manager(), dir);
            int checked = 0;
            for (UnitLayout unit : model.units()) {
                float[] flat = params.weights(unit.name()).toFloatArray();
                for (ParamSpec p : unit.params()) {
                    double[] want = expected.get(p.name());
                    assertEquals(p.numel(), want.length, p.name());
                    for (int i = 0; i < want.length; i++) {
                        assertEquals(want[i], flat[(int) unit.offset(p.name()) + i], 0.0, p.name() + "[" + i + "]");
                    }
                    checked++;
                }
            }
            assertEquals(expected.size(), checked, "every tensor of the folder is a parameter of the model");
            float[] out = logits(model, params, new int[] {3, 4, 39});
            assertEquals(3 * 40, out.length);
            for (float v : out) {
                assertTrue(Float.isFinite(v));
            }
        }
    }

    @Test
    void missingOrMisshapedTensorsAreNamed(@TempDir Path dir) throws IOException {
        writeRandomHfFolder(dir, "llama", SafeDType.F32, new SplittableRandom(1));
        DecoderConfig wrong = DecoderConfig.builder().family("llama").vocabSize(40).hiddenSize(16).intermediateSize(22)
                .numLayers(2).numHeads(2).numKvHeads(1).tieWordEmbeddings(false).build();
        DecoderLM model = new DecoderLM(wrong);
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 0)) {
            IOException e = assertThrows(IOException.class, () -> HfCheckpoint.load(model, params, rank.manager(), dir));
            assertTrue(e.getMessage().contains("gate_proj"), e.getMessage());
        }
        DecoderLM qwen3 = new DecoderLM(DecoderConfig.builder().family("qwen3").vocabSize(40).hiddenSize(16)
                .intermediateSize(20).numLayers(2).numHeads(2).numKvHeads(1).tieWordEmbeddings(false).build());
        try (LocalParams params = new LocalParams(rank.manager(), qwen3.units(), DataType.FLOAT32, 0)) {
            IOException e = assertThrows(IOException.class, () -> HfCheckpoint.load(qwen3, params, rank.manager(), dir));
            assertTrue(e.getMessage().contains("q_norm"), e.getMessage());
        }
    }

    @Test
    void halfPrecisionDecodes() {
        assertEquals(1.0f, HfCheckpoint.halfToFloat((short) 0x3C00));
        assertEquals(-2.0f, HfCheckpoint.halfToFloat((short) 0xC000));
        assertEquals(65504f, HfCheckpoint.halfToFloat((short) 0x7BFF));
        assertEquals(5.9604645e-8f, HfCheckpoint.halfToFloat((short) 0x0001));
        assertTrue(Float.isInfinite(HfCheckpoint.halfToFloat((short) 0x7C00)));
    }
}
