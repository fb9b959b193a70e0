package ai.omnispark.models.vlm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.FrozenParts;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.decoder.FiniteDifferences;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTesting;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LoRA on Qwen2-VL: adapters on the decoder's seven linear kinds and the ViT blocks' four, in units
 * "layers.i.lora" and "visual.blocks.i.lora" beside the frozen base; their gradients against float64
 * central differences through the whole model on {@link TinyVlm}'s images and video; the adapted
 * forward against the plain model with W + alpha/r B A merged in Java; PEFT keys in HF Qwen2-VL names.
 */
class Qwen2VlLoraTest {
    private static final List<String> LM_KINDS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
            "up_proj", "down_proj");
    private static final List<String> VISION_KINDS = List.of("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2");
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

    private static Qwen2VlModel lora(Qwen2VlConfig config, LoraConfig lora) {
        return new Qwen2VlModel(config, AttentionImpl.SDPA, Attention.DEFAULT_BLOCK, 0, FrozenParts.NONE, lora);
    }

    private static List<String> all() {
        List<String> modules = new java.util.ArrayList<>(LM_KINDS);
        modules.addAll(VISION_KINDS);
        return modules;
    }

    @Test
    void unitsFreezeTheBaseAndHoldTheNamedAdaptersUnderPeftNames() {
        Qwen2VlConfig config = Qwen2VlConfigJson.parse(TinyVlm.json(false));
        try (Qwen2VlModel model = lora(config, new LoraConfig(2, 4, 0, List.of("q_proj", "mlp.fc1")))) {
            assertEquals(List.of("visual.patch_embed", "visual.blocks.0", "visual.blocks.0.lora", "visual.blocks.1",
                    "visual.blocks.1.lora", "visual.merger", "embed", "layers.0", "layers.0.lora", "layers.1",
                    "layers.1.lora", "head"), UnitLayout.names(model.units()));
            for (UnitLayout u : model.units()) {
                assertEquals(!u.name().endsWith(".lora"), u.frozen(), u.name());
            }
            UnitLayout vision = model.units().get(2);
            assertEquals(List.of("visual.blocks.0.mlp.fc1.lora_A.weight", "visual.blocks.0.mlp.fc1.lora_B.weight"),
                    vision.params().stream().map(ParamSpec::name).toList());
            // fc1: embed 8 -> mlp 16
            assertArrayEquals(new long[] {2, 8}, vision.params().get(0).shape().getShape());
            assertArrayEquals(new long[] {16, 2}, vision.params().get(1).shape().getShape());
            UnitLayout language = model.units().get(8);
            assertEquals(List.of("model.layers.0.self_attn.q_proj.lora_A.weight",
                    "model.layers.0.self_attn.q_proj.lora_B.weight"),
                    language.params().stream().map(ParamSpec::name).toList());
            StateDictAdapter names = model.stateDictAdapter();
            assertEquals("base_model.model.visual.blocks.0.mlp.fc1.lora_A.weight",
                    names.toPeft("visual.blocks.0.mlp.fc1.lora_A.weight"));
            assertEquals("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
                    names.toPeft("model.layers.1.self_attn.q_proj.lora_B.weight"));
            assertEquals("visual.blocks.1.mlp.fc1.weight", names.toHf("visual.blocks.1.mlp.fc1.weight"));
            assertTrue(model.describe().get(1).startsWith("LoRA rank 2, alpha 4.0 on 4 linears: "),
                    model.describe().toString());
            assertEquals(new LoraConfig(2, 4, 0, List.of("q_proj", "mlp.fc1")), model.lora());
        }
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> lora(config, new LoraConfig(2, 4, 0, List.of("q_proj", "merger.mlp.0"))));
        assertTrue(unknown.getMessage().contains("'merger.mlp.0', which matches no linear")
                && unknown.getMessage().contains("attn.qkv, attn.proj, mlp.fc1 and mlp.fc2"), unknown.getMessage());
        IllegalArgumentException frozen = assertThrows(IllegalArgumentException.class,
                () -> new Qwen2VlModel(config, AttentionImpl.SDPA, Attention.DEFAULT_BLOCK, 0,
                        new FrozenParts(true, false, false), new LoraConfig(2, 4, 0, List.of("q_proj"))));
        assertTrue(frozen.getMessage().startsWith("model.lora_config freezes the whole base model, so "
                + "model.freeze_vision_tower"), frozen.getMessage());
        try (Model built = new Qwen2VlFamily().build(TinyVlm.json(true),
                new ModelOptions("sdpa", 0, new LoraConfig(4, 8, 0, List.of("o_proj"))))) {
            assertEquals(List.of("layers.0.lora", "layers.1.lora"), built.units().stream()
                    .filter(u -> !u.frozen()).map(UnitLayout::name).toList(), "the family takes model.lora_config");
        }
    }

    /**
     * Float64 central differences (h = 1e-5) on every element of every A and B of all eleven kinds,
     * through the frozen ViT, merger and decoder, with and without recompute: |fd - analytic| <= 2e-9 +
     * 2e-7 |fd| (the bounds of the other gradient checks), each tensor's somewhere non-zero. The base
     * takes no gradient at all.
     */
    @Test
    void adapterGradientsMatchFiniteDifferences() {
        Qwen2VlConfig config = Qwen2VlConfigJson.parse(TinyVlm.json(false));
        double[][] pixels = TinyVlm.pixels(config.vision(), 5);
        for (boolean recompute : new boolean[] {false, true}) {
            try (Qwen2VlModel model = lora(config, new LoraConfig(2, 3, 0, all()));
                    LocalParams params = new LocalParams(rank.manager(), LoraTesting.thawed(model.units()),
                            DataType.FLOAT64, 3)) {
                LoraTesting.randomiseB(model.units(), params, 5);
                TinyVlm.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, pixels,
                        recompute ? Recompute.all() : Recompute.none());
                List<UnitLayout> adapters = new ArrayList<>();
                for (UnitLayout unit : model.units()) {
                    if (!unit.frozen()) {
                        adapters.add(unit);
                        continue;
                    }
                    for (double g : params.grad(unit.name()).toDoubleArray()) {
                        assertEquals(0.0, g, 0.0, unit.name() + " is frozen but took a gradient");
                    }
                }
                Set<String> checked = new HashSet<>();
                double worst = FiniteDifferences.check(params, adapters,
                        () -> TinyVlm.loss(rank.manager(), model, params, DataType.FLOAT64, pixels), 2e-9, 2e-7,
                        checked);
                long elements = adapters.stream().mapToLong(UnitLayout::numel).sum();
                // rank 2 x (in + out); decoder hidden 12, q 12, kv 6, intermediate 16; ViT embed 8, mlp 16.
                long lm = 2L * ((12 + 12) + 2 * (12 + 6) + (12 + 12) + 2 * (12 + 16) + (16 + 12));
                long vit = 2L * ((8 + 24) + (8 + 8) + (8 + 16) + (16 + 8));
                assertEquals(2 * lm + 2 * vit, elements, "every element of 2 layers' and 2 blocks' adapters");
                assertEquals(2 * 2 * (7 + 4), checked.size(), "A and B of 11 linears in 2 layers / blocks");
                System.out.printf("qwen2_vl LoRA gradient check recompute=%s: %d elements, worst error %.3f of its "
                        + "bound%n", recompute, elements, worst);
            }
        }
    }

    /**
     * A fresh adapter (B = 0) is the base bit for bit; with B random the adapted logits equal the
     * plain model's whose adapted weights are W + alpha/r B A, merged here in float64.
     */
    @Test
    void theAdaptedForwardIsTheMergedModels() {
        Qwen2VlConfig config = Qwen2VlConfigJson.parse(TinyVlm.json(true));
        double[][] pixels = TinyVlm.pixels(config.vision(), 7);
        LoraConfig settings = new LoraConfig(3, 5, 0, all());
        try (Qwen2VlModel adapted = lora(config, settings);
                Qwen2VlModel plain = TinyVlm.model(TinyVlm.json(true), "sdpa");
                LocalParams loraParams = new LocalParams(rank.manager(), LoraTesting.thawed(adapted.units()),
                        DataType.FLOAT64, 21);
                LocalParams plainParams = new LocalParams(rank.manager(), plain.units(), DataType.FLOAT64, 21)) {
            double[] base = TinyVlm.logits(rank.manager(), plain, plainParams, DataType.FLOAT64, pixels);
            assertArrayEquals(base, TinyVlm.logits(rank.manager(), adapted, loraParams, DataType.FLOAT64, pixels),
                    "B = 0: the adapted model is the base");

            LoraTesting.randomiseB(adapted.units(), loraParams, 9);
            Map<String, double[]> w = TinyVlm.weights(adapted, loraParams);
            int merged = 0;
            for (UnitLayout u : plain.units()) {
                for (ParamSpec p : u.params()) {
                    String module = p.name().substring(0, p.name().length() - ".weight".length());
                    double[] a = w.get(LoraAdapters.loraA(module));
                    if (a == null) {
                        continue;
                    }
                    double[] b = w.get(LoraAdapters.loraB(module));
                    double[] base0 = w.get(p.name());
                    int out = (int) p.shape().get(0);
                    int in = (int) p.shape().get(1);
                    double[] m = new double[out * in];
                    for (int i = 0; i < out; i++) {
                        for (int j = 0; j < in; j++) {
                            double ba = 0;
                            for (int k = 0; k < settings.rank(); k++) {
                                ba += b[i * settings.rank() + k] * a[k * in + j];
                            }
                            m[i * in + j] = base0[i * in + j] + settings.scale() * ba;
                        }
                    }
                    try (NDArray value = rank.manager().create(m, p.shape())) {
                        plainParams.setParam(u.name(), p.name(), value);
                    }
                    merged++;
                }
            }
            assertEquals(2 * 7 + 2 * 4, merged);
            double[] want = TinyVlm.logits(rank.manager(), plain, plainParams, DataType.FLOAT64, pixels);
            double[] got = TinyVlm.logits(rank.manager(), adapted, loraParams, DataType.FLOAT64, pixels);
            double worst = 0;
            double moved = 0;
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs(want[i] - got[i]));
                moved = Math.max(moved, Math.abs(want[i] - base[i]));
            }
            assertTrue(moved > 1e-2, "the adapters change the logits, by " + moved);
            assertTrue(worst <= 1e-10, "adapted vs merged logits differ by " + worst);
            System.out.printf("qwen2_vl LoRA vs merged forward (float64): max logit difference %.2e (adapters moved "
                    + "them by %.2f)%n", worst, moved);
        }
    }
}
