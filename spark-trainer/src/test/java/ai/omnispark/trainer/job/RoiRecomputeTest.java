package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import ai.omnispark.trainer.testing.TinyModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * train.recompute: none, block and roi run the same arithmetic, only keeping different tensors:
 * every step's loss and grad norm and the final weights agree within 1e-6 (relative), on one rank
 * and on 2 FSDP ranks. roi's budget is 1.5 x the smallest reachable activation memory (read from
 * the refusal of a budget below it), so some steps recompute and the run is really cut into regions.
 */
class RoiRecomputeTest {
    @TempDir
    static Path dir;

    private record Run(Map<Long, StepResult> steps, String console) {}

    private static Run run(Path model, String out, int world, String... extra) throws Exception {
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=512", "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4",
                "train.micro_batch_size=2", "train.lr=1e-3", "train.max_steps=3", "train.threads=1",
                "train.comm_timeout_s=30", "train.world_size=" + world, "train.save_hf_weights=true"));
        if (world == 1) {
            all.add("train.data_parallel_mode=none");
        }
        all.addAll(List.of(extra));
        Map<Long, StepResult> steps = new ConcurrentHashMap<>();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        LocalLauncher.run(Settings.fromTree(null, all, "test"), (StepResult r, long total) -> steps.put(r.step(), r),
                new PrintStream(console, true, StandardCharsets.UTF_8), 0);
        return new Run(new TreeMap<>(steps), console.toString(StandardCharsets.UTF_8));
    }

    /**
     * A budget (MiB) between the smallest activation memory reachable and what none keeps (their
     * geometric middle), so steps must recompute and the budget is met. The calibration reads the C
     * heap, which other threads move by tens to hundreds of KiB between runs (at 32 tokens a clean
     * run read the smallest as 5.8 KiB, the next as 67 KiB and refused 1.5 times the first), so rows
     * are 512 tokens: megabytes kept, a margin of several times the noise on both sides.
     */
    private static double budgetBetween(long reachable, Run none) {
        double nonePeak = none.steps().get(1L).metrics().get(Trainer.ACTIVATION_PEAK);
        assertTrue(nonePeak > 3 * reachable, "none keeps " + nonePeak + " bytes, the smallest reachable is "
                + reachable + ": too close for a budget between them");
        return Math.sqrt(reachable * nonePeak) / (1 << 20);
    }

    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append('\n');
        }
        return all.toString();
    }

    @ParameterizedTest(name = "{0} rank(s)")
    @ValueSource(ints = {1, 2})
    void noneBlockAndRoiGiveTheSameLossesGradientsAndWeights(int world) throws Exception {
        Path model = TinyModel.write(dir, false);
        Run none = run(model, "none" + world, world, "train.recompute=none");
        Run block = run(model, "block" + world, world, "train.recompute=block");
        Exception refused = assertThrows(Exception.class, () -> run(model, "tiny" + world, world,
                "train.recompute=roi", "train.activation_memory_budget_mb=0.0001"));
        Matcher smallest = Pattern.compile("smallest activation memory reachable by recomputing is [0-9.]+ MiB \\(([0-9]+) bytes\\)")
                .matcher(messages(refused));
        assertTrue(smallest.find(), messages(refused));
        long reachable = Long.parseLong(smallest.group(1));
        double budgetMb = budgetBetween(reachable, none);
        Run roi = run(model, "roi" + world, world, "train.recompute=roi",
                "train.activation_memory_budget_mb=" + budgetMb);
        assertTrue(roi.console().contains("recompute roi, budget"), roi.console());
        assertTrue(roi.console().contains("recomputed (pick 1)"), roi.console());
        assertTrue(roi.console().contains("layers.0.attn.qkv") || roi.console().contains("attn.0.qkv"), roi.console());
        for (Run other : List.of(block, roi)) {
            assertEquals(List.of(1L, 2L, 3L), new ArrayList<>(other.steps().keySet()));
            for (long step : none.steps().keySet()) {
                StepResult a = none.steps().get(step);
                StepResult b = other.steps().get(step);
                assertEquals(a.loss(), b.loss(), 1e-6 * Math.abs(a.loss()), "loss of step " + step);
                assertEquals(a.gradNorm(), b.gradNorm(), 1e-6 * a.gradNorm(), "grad norm of step " + step);
                if (world == 1) {
                    assertTrue(b.metrics().get(Trainer.ACTIVATION_PEAK) > 0, "step " + step + " of "
                            + (other == roi ? "roi" : "block") + ": " + b.metrics());
                }
            }
            // Rank threads share the C heap the peak is read from: one rank's backward frees inside the
            // other's forward, so a single step may read nothing kept; not every step does.
            assertTrue(other.steps().values().stream().anyMatch(r -> r.metrics().get(Trainer.ACTIVATION_PEAK) > 0),
                    other.steps().toString());
        }
        Map<String, float[]> w0 = weights(dir.resolve("none" + world + "/final_hf"));
        for (String other : List.of("block" + world, "roi" + world)) {
            Map<String, float[]> w = weights(dir.resolve(other + "/final_hf"));
            assertEquals(w0.keySet(), w.keySet());
            for (String name : w0.keySet()) {
                float[] a = w0.get(name);
                float[] b = w.get(name);
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i], b[i], 1e-6 * Math.max(1, Math.abs(a[i])), other + " " + name + "[" + i + "]");
                }
            }
        }
    }

    /** The MoE family: its attention is stepped like the decoder's (router counts passed through), its MLP a whole candidate. */
    @Test
    void moeRoiGivesTheLossesOfNone() throws Exception {
        Path model = dir.resolve("tiny-moe.json");
        java.nio.file.Files.writeString(model, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":0.01}
                """);
        Run none = run(model, "moe-none", 1, "train.recompute=none");
        Exception refused = assertThrows(Exception.class, () -> run(model, "moe-tiny", 1,
                "train.recompute=roi", "train.activation_memory_budget_mb=0.0001"));
        Matcher smallest = Pattern.compile("\\(([0-9]+) bytes\\)").matcher(messages(refused));
        assertTrue(smallest.find(), messages(refused));
        Run roi = run(model, "moe-roi", 1, "train.recompute=roi",
                "train.activation_memory_budget_mb=" + budgetBetween(Long.parseLong(smallest.group(1)), none));
        assertTrue(roi.console().contains("attn.0.qkv") && roi.console().contains("recomputed (pick 1)"), roi.console());
        for (long step : none.steps().keySet()) {
            StepResult a = none.steps().get(step);
            StepResult b = roi.steps().get(step);
            assertEquals(a.loss(), b.loss(), 1e-6 * Math.abs(a.loss()), "loss of step " + step);
            assertEquals(a.gradNorm(), b.gradNorm(), 1e-6 * a.gradNorm(), "grad norm of step " + step);
            assertEquals(a.metrics().get("aux_loss"), b.metrics().get("aux_loss"), 1e-6 * a.metrics().get("aux_loss"));
        }
    }

    @Test
    void contradictingRecomputeSettingsAreRefused() {
        Path model = dir.resolve("unused.json");
        ConfigException both = assertThrows(ConfigException.class, () -> run(model, "both", 1,
                "train.enable_gradient_checkpointing=true", "train.recompute=roi",
                "train.activation_memory_budget_mb=10"));
        assertTrue(both.getMessage().contains("enable_gradient_checkpointing: true means train.recompute: block"),
                both.getMessage());
        ConfigException noBudget = assertThrows(ConfigException.class, () -> run(model, "nobudget", 1,
                "train.recompute=roi"));
        assertTrue(noBudget.getMessage().contains("needs train.activation_memory_budget_mb > 0"), noBudget.getMessage());
        ConfigException unknown = assertThrows(ConfigException.class, () -> run(model, "unknown", 1,
                "train.recompute=some"));
        assertTrue(unknown.getMessage().contains("none, block or roi, got 'some'"), unknown.getMessage());
    }
}
