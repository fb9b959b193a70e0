package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTesting;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LoRA on the DiT with VeOmni's lora_modules (diffusers leaf names): each block's adapters in unit
 * blocks.i.lora named by the diffusers linears, the base frozen; with B = 0 the model's loss equals
 * the base model's bit for bit on the same weights; a training step with adapter dropout (masks
 * shaped per linear input: x tokens, text tokens, image tokens) gives every adapter A or B a
 * gradient and the frozen base none; names no linear matches are refused.
 */
class WanLoraTest {
    private static final List<String> MODULES = List.of("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj",
            "ffn.net.2", "add_k_proj", "add_v_proj");
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

    private static WanModel model(LoraConfig lora) {
        return new WanModel(WanConfigJson.parse(TinyWan.json(true)), AttentionImpl.EAGER,
                new DiffusionOptions(5, DiffusionOptions.NONE, 0.0), lora);
    }

    @Test
    void adaptersTrainAndTheBaseStaysFrozen() {
        List<Sample> rows = TinyWan.samples(2, true, 4);
        try (WanModel base = model(null); WanModel adapted = model(new LoraConfig(4, 8, 0.2, MODULES));
                LocalParams baseParams = new LocalParams(rank.manager(), base.units(), DataType.FLOAT64, 5);
                // Stored thawed so the test can read every unit's gradient; the engine still sees the frozen layouts.
                LocalParams params = new LocalParams(rank.manager(), LoraTesting.thawed(adapted.units()),
                        DataType.FLOAT64, 5)) {
            List<String> names = new ArrayList<>();
            for (UnitLayout u : adapted.units()) {
                names.add(u.name());
                if (u.name().endsWith(".lora")) {
                    assertFalse(u.frozen(), u.name());
                    u.params().forEach(p -> assertTrue(p.name().contains(".lora_"), p.name()));
                } else {
                    assertTrue(u.frozen(), u.name());
                }
            }
            assertEquals(List.of("embed", "blocks.0", "blocks.0.lora", "blocks.1", "blocks.1.lora", "head"), names);
            assertTrue(adapted.units().get(2).params().stream().anyMatch(
                    p -> p.name().equals("blocks.0.attn2.add_k_proj.lora_A.weight")));
            assertEquals("base_model.model.blocks.0.attn1.to_q.lora_A.weight",
                    adapted.stateDictAdapter().toPeft("blocks.0.attn1.to_q.lora_A.weight"));
            // Same base weights in both; lora_B starts at zero, so the adapted loss is the base's (no dropout: eval-free).
            for (UnitLayout u : base.units()) {
                params.weights(u.name()).set(new ai.djl.ndarray.index.NDIndex(":"), baseParams.weights(u.name()));
            }
            double plain = TinyWan.loss(rank.manager(), base, baseParams, DataType.FLOAT64, rows, 9);
            double withZeroB = TinyWan.loss(rank.manager(), adapted, params, DataType.FLOAT64, rows, 9);
            assertEquals(plain, withZeroB, 1e-12);
            TinyWan.randomize(params, adapted.units(), 8);
            TinyWan.lossAndGrad(rank.manager(), adapted, params, DataType.FLOAT64, rows, 9, Recompute.all());
            for (UnitLayout u : adapted.units()) {
                if (!u.name().endsWith(".lora")) {
                    double[] frozen = params.grad(u.name()).toDoubleArray();
                    for (double x : frozen) {
                        assertEquals(0, x, 0, u.name() + " is frozen but took a gradient");
                    }
                }
                if (u.name().endsWith(".lora")) {
                    double[] g = params.grad(u.name()).toDoubleArray();
                    for (var p : u.params()) {
                        int off = (int) u.offset(p.name());
                        double largest = 0;
                        for (int i = off; i < off + p.numel(); i++) {
                            largest = Math.max(largest, Math.abs(g[i]));
                        }
                        assertTrue(largest > 0, p.name() + " has no gradient");
                    }
                }
            }
        }
    }

    @Test
    void namesNoLinearMatchesAreRefused() {
        String msg = assertThrows(IllegalArgumentException.class,
                () -> model(new LoraConfig(4, 8, 0, List.of("qkv")))).getMessage();
        assertTrue(msg.contains("'qkv'") && msg.contains("to_out.0"), msg);
        try (WanModel t2v = new WanModel(WanConfigJson.parse(TinyWan.json(false)), AttentionImpl.EAGER,
                DiffusionOptions.defaults(), null)) {
            assertArrayEquals(new int[] {1, 2, 2}, t2v.config().patchSize());
        }
    }
}
