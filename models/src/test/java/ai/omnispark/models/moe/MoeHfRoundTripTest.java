package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.decoder.DecoderNames;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MoeHfRoundTripTest {
    private static final int SEQ = 9;
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

    /** Every key Qwen3MoeConfig / Qwen2MoeConfig (transformers 4.51) reads. */
    private static final List<String> COMMON_KEYS = List.of("vocab_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_act", "max_position_embeddings",
            "initializer_range", "rms_norm_eps", "use_cache", "tie_word_embeddings", "rope_theta", "rope_scaling",
            "use_sliding_window", "sliding_window", "max_window_layers", "attention_dropout", "decoder_sparse_step",
            "moe_intermediate_size", "num_experts_per_tok", "num_experts", "norm_topk_prob", "output_router_logits",
            "router_aux_loss_coef", "mlp_only_layers");

    @ParameterizedTest(name = "{0} tied={1}")
    @CsvSource({"qwen3_moe,true", "qwen3_moe,false", "qwen2_moe,false"})
    void exportThenImportGivesBitIdenticalLogits(String family, boolean tied, @TempDir Path dir) throws IOException {
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 3);
        try (MoeLM model = TinyMoe.model(TinyMoe.json(family, tied), "sdpa");
                LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            HfCheckpoint.export(model, a, rank.manager(), dir, SafeDType.F32);
            JsonNode config = ModelFamilies.readConfig(dir);
            for (String key : COMMON_KEYS) {
                assertTrue(config.has(key), "config.json lacks " + key);
            }
            assertTrue(config.has(family.equals("qwen2_moe") ? "shared_expert_intermediate_size" : "head_dim"));
            assertTrue(config.has(family.equals("qwen2_moe") ? "qkv_bias" : "attention_bias"));
            assertEquals(family.equals("qwen3_moe"), config.get("norm_topk_prob").asBoolean());
            assertEquals(family.equals("qwen2_moe") ? "Qwen2MoeForCausalLM" : "Qwen3MoeForCausalLM",
                    config.get("architectures").get(0).asText());
            assertEquals(model.config(), MoeConfigJson.parse(config));
            HfCheckpoint.load(model, b, rank.manager(), dir);
            assertArrayEquals(TinyMoe.logits(rank.manager(), model, a, DataType.FLOAT32, rows),
                    TinyMoe.logits(rank.manager(), model, b, DataType.FLOAT32, rows));
            try (SafeTensorsReader reader = SafeTensorsReader.open(dir.resolve(HfCheckpoint.WEIGHTS))) {
                Set<String> names = new HashSet<>();
                for (TensorInfo t : reader.tensors()) {
                    names.add(t.name());
                }
                assertTrue(names.contains("model.layers.0.mlp.gate.weight"));
                assertTrue(names.contains("model.layers.2.mlp.experts.3.down_proj.weight"));
                assertTrue(names.contains("model.layers.1.mlp.down_proj.weight"), "layer 1 is dense");
                assertEquals(family.equals("qwen2_moe"), names.contains("model.layers.0.mlp.shared_expert_gate.weight"));
                assertEquals(!tied, names.contains("lm_head.weight"));
            }
        }
    }

    /**
     * Folders written by hand, tensor by tensor from a model's weights: per expert, and fused
     * (gate_up_proj [E, 2I, H] with each expert's gate rows first, down_proj [E, H, I]). Both import
     * to exactly those weights.
     */
    @ParameterizedTest(name = "{0} fused={1}")
    @CsvSource({"qwen3_moe,true", "qwen2_moe,true", "qwen3_moe,false"})
    void handWrittenFoldersImport(String family, boolean fused, @TempDir Path dir) throws IOException {
        ObjectNode json = TinyMoe.json(family, false);
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 3);
        try (MoeLM model = TinyMoe.model(json, "sdpa");
                LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17);
                LocalParams b = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 99)) {
            writeFolder(dir, json, model, a, fused, 0);
            HfCheckpoint.load(model, b, rank.manager(), dir);
            for (UnitLayout u : model.units()) {
                assertArrayEquals(a.weights(u.name()).toFloatArray(), b.weights(u.name()).toFloatArray(), u.name());
            }
            assertArrayEquals(TinyMoe.logits(rank.manager(), model, a, DataType.FLOAT32, rows),
                    TinyMoe.logits(rank.manager(), model, b, DataType.FLOAT32, rows));
        }
    }

    @Test
    void aFusedTensorOfTheWrongShapeIsNamed(@TempDir Path dir) throws IOException {
        ObjectNode json = TinyMoe.json("qwen3_moe", false);
        try (MoeLM model = TinyMoe.model(json, "sdpa");
                LocalParams a = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 17)) {
            writeFolder(dir, json, model, a, true, 1);
            IOException e = assertThrows(IOException.class, () -> HfCheckpoint.load(model, a, rank.manager(), dir));
            assertTrue(e.getMessage().contains("mlp.experts.gate_up_proj"), e.getMessage());
        }
    }

    /**
     * @param dropExpert with the fused layout, store one expert fewer than the config says (a wrong shape)
     */
    private static void writeFolder(Path dir, ObjectNode json, MoeLM model, LocalParams params, boolean fused,
            int dropExpert) throws IOException {
        Files.createDirectories(dir);
        new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), json);
        MoeConfig c = model.config();
        Map<String, double[]> w = TinyMoe.weights(model, params);
        SafeTensorsWriter out = new SafeTensorsWriter();
        for (UnitLayout u : model.units()) {
            for (ParamSpec p : u.params()) {
                if (!fused || !p.name().contains(".mlp.experts.")) {
                    out.add(p.name(), SafeDType.F32, p.shape().getShape(), TensorBytes.ofFloats(floats(w.get(p.name()))));
                }
            }
        }
        if (fused) {
            int e = c.numExperts() - dropExpert;
            int h = c.hiddenSize();
            int im = c.moeIntermediateSize();
            for (int layer = 0; layer < c.numLayers(); layer++) {
                if (!c.sparse(layer)) {
                    continue;
                }
                float[] gateUp = new float[e * 2 * im * h];
                float[] down = new float[e * h * im];
                for (int j = 0; j < e; j++) {
                    double[] gate = w.get(MoeNames.expert(layer, j, "gate_proj"));
                    double[] up = w.get(MoeNames.expert(layer, j, "up_proj"));
                    double[] dn = w.get(MoeNames.expert(layer, j, "down_proj"));
                    for (int r = 0; r < im; r++) {
                        for (int col = 0; col < h; col++) {
                            gateUp[(j * 2 * im + r) * h + col] = (float) gate[r * h + col];
                            gateUp[(j * 2 * im + im + r) * h + col] = (float) up[r * h + col];
                        }
                    }
                    for (int r = 0; r < h; r++) {
                        for (int col = 0; col < im; col++) {
                            down[(j * h + r) * im + col] = (float) dn[r * im + col];
                        }
                    }
                }
                out.add(DecoderNames.layer(layer, "mlp.experts.gate_up_proj"), SafeDType.F32, new long[] {e, 2L * im, h},
                        TensorBytes.ofFloats(gateUp));
                out.add(DecoderNames.layer(layer, "mlp.experts.down_proj"), SafeDType.F32, new long[] {e, h, im},
                        TensorBytes.ofFloats(down));
            }
        }
        out.write(dir.resolve(HfCheckpoint.WEIGHTS));
    }

    private static float[] floats(double[] values) {
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return f;
    }
}
