package ai.omnispark.models.llm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTesting;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decoder with LoRA adapters: the base frozen in its own units, adapters in "layers.i.lora";
 * A and B against float64 central differences through the whole model; a fresh adapter (B = 0)
 * leaves the model exactly the base; the merged HF export reproduces the adapted model.
 */
class LoraDecoderTest {
    private static final int SEQ = 9;
    private static final List<String> ALL_SEVEN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
            "up_proj", "down_proj");
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

    private static DecoderLM lora(DecoderConfig config, LoraConfig lora) {
        return new DecoderLM(config, AttentionImpl.SDPA, 4, 0, lora);
    }

    private static List<UnitLayout> thawed(List<UnitLayout> units) {
        return LoraTesting.thawed(units);
    }

    private static void randomiseB(DecoderLM model, LocalParams params, long seed) {
        LoraTesting.randomiseB(model.units(), params, seed);
    }

    @Test
    void unitsFreezeTheBaseAndHoldAdaptersOfTheMatchedLinears() {
        DecoderConfig config = TinyModels.tiny("qwen3", false);
        try (DecoderLM model = lora(config, new LoraConfig(2, 4, 0, List.of("q_proj", "mlp.down_proj")))) {
            List<String> names = UnitLayout.names(model.units());
            assertEquals(List.of("embed", "layers.0", "layers.0.lora", "layers.1", "layers.1.lora", "head"), names);
            for (UnitLayout u : model.units()) {
                assertEquals(!u.name().endsWith(".lora"), u.frozen(), u.name());
            }
            UnitLayout adapters = model.units().get(2);
            assertEquals(List.of("model.layers.0.self_attn.q_proj.lora_A.weight",
                    "model.layers.0.self_attn.q_proj.lora_B.weight", "model.layers.0.mlp.down_proj.lora_A.weight",
                    "model.layers.0.mlp.down_proj.lora_B.weight"),
                    adapters.params().stream().map(ParamSpec::name).toList());
            // q_proj: [rank, hidden] and [heads * head_dim, rank]; down_proj: [rank, intermediate], [hidden, rank]
            assertArrayEquals(new long[] {2, 8}, adapters.params().get(0).shape().getShape());
            assertArrayEquals(new long[] {8, 2}, adapters.params().get(1).shape().getShape());
            assertArrayEquals(new long[] {2, 12}, adapters.params().get(2).shape().getShape());
            assertArrayEquals(new long[] {8, 2}, adapters.params().get(3).shape().getShape());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> lora(config, new LoraConfig(2, 4, 0, List.of("q_proj", "qkv_proj"))));
        assertTrue(e.getMessage().contains("'qkv_proj'") && e.getMessage().contains("down_proj"), e.getMessage());
    }

    /**
     * Float64 central differences (h = 1e-5) on every element of every A and B, through the frozen
     * base of both blocks, packed rows and SDPA attention, with and without recompute:
     * |fd - analytic| <= 2e-9 + 2e-7 |fd| (the bounds of {@link GradientCheckTest}). The base takes
     * no gradient at all.
     */
    @Test
    void adapterGradientsMatchFiniteDifferences() {
        for (Recompute recompute : List.of(Recompute.none(), Recompute.all())) {
            DecoderConfig config = TinyModels.tiny("llama", false, true, 0);
            int[][] rows = PackedRows.columns(SEQ, config.vocabSize(), 7);
            try (DecoderLM model = lora(config, new LoraConfig(2, 3, 0, ALL_SEVEN));
                    LocalParams params = new LocalParams(rank.manager(), thawed(model.units()), DataType.FLOAT64, 3)) {
                randomiseB(model, params, 5);
                TinyModels.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows, recompute);
                double h = 1e-5;
                int checked = 0;
                for (UnitLayout unit : model.units()) {
                    double[] analytic = params.grad(unit.name()).toDoubleArray();
                    if (unit.frozen()) {
                        for (double g : analytic) {
                            assertEquals(0.0, g, 0.0, unit.name() + " is frozen but took a gradient");
                        }
                        continue;
                    }
                    NDArray w = params.weights(unit.name());
                    for (int i = 0; i < analytic.length; i++) {
                        double original = w.getDouble(i);
                        w.set(new NDIndex(i), original + h);
                        double plus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original - h);
                        double minus = TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows);
                        w.set(new NDIndex(i), original);
                        double fd = (plus - minus) / (2 * h);
                        assertTrue(Math.abs(fd - analytic[i]) <= 2e-9 + 2e-7 * Math.abs(fd), unit.name() + "[" + i
                                + "]: analytic " + analytic[i] + ", finite difference " + fd);
                        checked++;
                    }
                }
                // 2 layers x rank 2 x (in + out) of q [8->8], k and v [8->4], o [8->8], gate and up [8->12], down [12->8]
                long expected = 2L * 2 * ((8 + 8) + 2 * (8 + 4) + (8 + 8) + 2 * (8 + 12) + (12 + 8));
                assertEquals(expected, checked);
            }
        }
    }

    @Test
    void aFreshAdapterIsTheBaseAndTheMergedExportIsTheAdaptedModel(@TempDir Path dir) throws IOException {
        DecoderConfig config = TinyModels.tiny("qwen3", true);
        int[] ids = {1, 5, 9, 3, 2, 7, 4};
        try (DecoderLM base = new DecoderLM(config, AttentionImpl.SDPA);
                DecoderLM adapted = lora(config, new LoraConfig(4, 8, 0, ALL_SEVEN));
                LocalParams baseParams = new LocalParams(rank.manager(), base.units(), DataType.FLOAT32, 17);
                LocalParams loraParams = new LocalParams(rank.manager(), thawed(adapted.units()), DataType.FLOAT32, 99)) {
            Path baseDir = dir.resolve("base");
            HfCheckpoint.export(base, baseParams, rank.manager(), baseDir, SafeDType.F32);
            HfCheckpoint.load(adapted, loraParams, rank.manager(), baseDir);
            assertArrayEquals(logits(base, baseParams, ids), logits(adapted, loraParams, ids),
                    "B = 0 at init: the adapted model is the base, bit for bit");

            randomiseB(adapted, loraParams, 11);
            float[] expected = logits(adapted, loraParams, ids);
            float[] before = logits(base, baseParams, ids);
            double moved = 0;
            for (int i = 0; i < expected.length; i++) {
                moved = Math.max(moved, Math.abs(expected[i] - before[i]));
            }
            assertTrue(moved > 1e-2, "the adapters should change the logits, moved " + moved);
            Path merged = dir.resolve("merged");
            HfCheckpoint.export(adapted, loraParams, rank.manager(), merged, SafeDType.F32);
            try (LocalParams reloaded = new LocalParams(rank.manager(), base.units(), DataType.FLOAT32, 1)) {
                HfCheckpoint.load(base, reloaded, rank.manager(), merged);
                float[] actual = logits(base, reloaded, ids);
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], actual[i], 1e-5 * (1 + Math.abs(expected[i])), "logit " + i);
                }
            }
            // Without merging, the export is the base as loaded: unchanged by the adapters.
            Path unmerged = dir.resolve("unmerged");
            java.nio.file.Files.createDirectories(unmerged);
            HfCheckpoint.write(adapted, HfCheckpoint.weights(adapted, loraParams, rank.manager(), SafeDType.F32, false),
                    SafeDType.F32, name -> java.nio.file.Files.newOutputStream(unmerged.resolve(name)));
            assertArrayEquals(java.nio.file.Files.readAllBytes(baseDir.resolve(HfCheckpoint.WEIGHTS)),
                    java.nio.file.Files.readAllBytes(unmerged.resolve(HfCheckpoint.WEIGHTS)));
            assertFalse(HfCheckpoint.adapterUnits(adapted).isEmpty());
            assertTrue(HfCheckpoint.adapterUnits(base).isEmpty());
            assertEquals(LoraAdapters.unitOf("layers.1"), HfCheckpoint.adapterUnits(adapted).get("layers.1").name());
        }
    }

    private static float[] logits(DecoderLM model, LocalParams params, int[] ids) {
        return TinyModels.logits(rank.manager(), model, params, ids);
    }
}
