package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.concat;
import static ai.omnispark.trainer.testing.TestRuns.copy;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TestRuns;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Expert parallelism against one rank: a tiny MoE (2 sparse layers, 4 experts, top-2, load-balancing
 * loss on) trained 20 steps with global batch 8 of one-row micro-batches, so every run accumulates
 * (1 rank: 8 micro-batches a step, EP 2: 4, EP 4, FSDP 2 x EP 2 and replicate 2 x EP 2: 2) and all
 * runs see the same
 * micro-batches (the aux term is per micro-batch, docs/moe.md). Every step's loss and gradient norm
 * must agree with the single rank within 1e-5 relative, every final weight (rank 0's HF export,
 * which gathers the experts it does not hold) within 1e-5. Resume under EP 2 must reproduce the
 * uninterrupted run bit for bit, export-hf of its checkpoint must give its final weights exactly,
 * and an EP 4 checkpoint must resume under EP 2 within 1e-5. Ulysses 2 x EP 2 (with FSDP over the
 * four ranks) must match the single rank too.
 */
class ExpertParallelTrainingTest {
    @TempDir
    static Path dir;

    private static final Map<String, Map<Long, StepResult>> REFERENCES = new LinkedHashMap<>();

    private static Path model(String family) throws IOException {
        Path file = dir.resolve(family + ".json");
        String common = """
                "vocab_size":259,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,
                "num_attention_heads":4,"num_key_value_heads":2,"head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,
                "max_position_embeddings":512,"tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,
                "num_experts":4,"num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,
                "mlp_only_layers":[],"output_router_logits":true,"router_aux_loss_coef":0.01""";
        Files.writeString(file, family.equals("qwen2_moe")
                ? "{\"architectures\":[\"Qwen2MoeForCausalLM\"],\"model_type\":\"qwen2_moe\",\"norm_topk_prob\":false,"
                        + "\"shared_expert_intermediate_size\":24,\"qkv_bias\":true," + common + "}"
                : "{\"architectures\":[\"Qwen3MoeForCausalLM\"],\"model_type\":\"qwen3_moe\",\"norm_topk_prob\":true,"
                        + common + "}");
        return file;
    }

    private static Settings settings(String family, String out, String... sets) throws IOException {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + model(family), "data.train_path=synthetic://text", "data.max_seq_len=32",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=8", "train.micro_batch_size=1",
                "train.lr=2e-3", "train.max_steps=20", "train.threads=1", "train.comm_timeout_s=60",
                "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    private static synchronized Map<Long, StepResult> reference(String family) throws Exception {
        if (!REFERENCES.containsKey(family)) {
            REFERENCES.put(family, TestRuns.train(settings(family, family + "-one", "train.data_parallel_mode=none")));
        }
        return REFERENCES.get(family);
    }

    private static double assertSameRun(String what, Map<Long, StepResult> expected, Path expectedHf,
            Map<Long, StepResult> actual, Path actualHf) throws IOException {
        assertEquals(expected.keySet(), actual.keySet(), what + ": steps");
        double worst = 0;
        for (long step : expected.keySet()) {
            StepResult a = expected.get(step);
            StepResult b = actual.get(step);
            for (double[] pair : new double[][] {{a.loss(), b.loss()}, {a.gradNorm(), b.gradNorm()},
                    {a.lossTerms().get("aux"), b.lossTerms().get("aux")}}) {
                double rel = Math.abs(pair[0] - pair[1]) / Math.abs(pair[0]);
                worst = Math.max(worst, rel);
                assertTrue(rel <= 1e-5, what + " step " + step + ": expected " + pair[0] + ", got " + pair[1]);
            }
        }
        Map<String, float[]> wa = weights(expectedHf);
        Map<String, float[]> wb = weights(actualHf);
        assertEquals(wa.keySet(), wb.keySet(), what + ": exported tensors");
        double worstWeight = 0;
        for (String name : wa.keySet()) {
            float[] x = wa.get(name);
            float[] y = wb.get(name);
            for (int i = 0; i < x.length; i++) {
                worstWeight = Math.max(worstWeight, Math.abs(x[i] - y[i]));
                assertTrue(Math.abs(x[i] - y[i]) <= 1e-5, what + ": " + name + "[" + i + "] " + y[i] + " vs " + x[i]);
            }
        }
        System.out.printf("%s: loss/aux/grad norm within %.2e relative, weights within %.2e%n", what, worst, worstWeight);
        return worst;
    }

    @Test
    void expertParallelRunsMatchOneRank() throws Exception {
        Map<Long, StepResult> one = reference("qwen3_moe");
        Path oneHf = dir.resolve("qwen3_moe-one/final_hf");
        assertEquals(20, one.size());
        assertTrue(weights(oneHf).containsKey("model.layers.1.mlp.experts.3.down_proj.weight"));
        String[][] runs = {
            {"ep2-inproc", "train.world_size=2", "train.expert_parallel_size=2", "train.comm_transport=in_process"},
            {"ep4-unix", "train.world_size=4", "train.expert_parallel_size=4", "train.comm_transport=unix"},
            {"fsdp2xep2-inproc-recompute", "train.world_size=4", "train.accelerator.ep_size=2",
                "train.comm_transport=in_process", "train.enable_gradient_checkpointing=true"},
            {"hsdp-replicate2xep2-unix", "train.world_size=4", "train.data_parallel_replicate_size=2",
                "train.expert_parallel_size=2", "train.comm_transport=unix"},
        };
        for (String[] run : runs) {
            String name = run[0];
            String[] sets = java.util.Arrays.copyOfRange(run, 1, run.length);
            Map<Long, StepResult> got = TestRuns.train(settings("qwen3_moe", name, sets));
            assertSameRun(name, one, oneHf, got, dir.resolve(name + "/final_hf"));
        }
        assertTrue(one.get(20L).loss() < one.get(1L).loss() * 0.8, "the reference run learns: " + one.get(1L).loss()
                + " -> " + one.get(20L).loss());
    }

    @Test
    void sharedExpertUnderFsdpAndExpertParallelOverSockets() throws Exception {
        Map<Long, StepResult> one = reference("qwen2_moe");
        Map<Long, StepResult> got = TestRuns.train(settings("qwen2_moe", "q2-fsdp2xep2-unix", "train.world_size=4",
                "train.expert_parallel_size=2", "train.comm_transport=unix"));
        assertSameRun("qwen2_moe fsdp2 x ep2 unix", one, dir.resolve("qwen2_moe-one/final_hf"), got,
                dir.resolve("q2-fsdp2xep2-unix/final_hf"));
    }

    /**
     * All three on 4 ranks: Ulysses 2 x EP 2 (world 4), where the non-expert units are FSDP-sharded
     * over all 4 ranks and each expert over its 2 sp ranks; each row is split over an sp pair, whose
     * routed tokens the ep pairs exchange. With recompute in process, and over Unix sockets.
     */
    @Test
    void ulyssesTimesExpertParallelTimesFsdpMatchesOneRank() throws Exception {
        Map<Long, StepResult> one = reference("qwen3_moe");
        Path oneHf = dir.resolve("qwen3_moe-one/final_hf");
        String[][] runs = {
            {"sp2xep2-inproc-recompute", "train.world_size=4", "train.accelerator.ulysses_size=2",
                "train.accelerator.ep_size=2", "train.comm_transport=in_process",
                "train.enable_gradient_checkpointing=true"},
            {"sp2xep2-unix", "train.world_size=4", "train.ulysses_parallel_size=2", "train.expert_parallel_size=2",
                "train.comm_transport=unix"},
        };
        for (String[] run : runs) {
            String[] sets = java.util.Arrays.copyOfRange(run, 1, run.length);
            Map<Long, StepResult> got = TestRuns.train(settings("qwen3_moe", run[0], sets));
            assertSameRun(run[0], one, oneHf, got, dir.resolve(run[0] + "/final_hf"));
        }
    }

    @Test
    void resumeUnderEp2IsBitIdenticalAndAnEp4CheckpointReshardsOntoEp2() throws Exception {
        String[] ep2 = {"train.world_size=2", "train.expert_parallel_size=2", "train.save_steps=10"};
        Map<Long, StepResult> full = TestRuns.train(settings("qwen3_moe", "r-full", ep2));
        Path fullHf = dir.resolve("r-full/final_hf");
        // Every expert of every layer is in the checkpoint's index, whichever rank held it.
        JsonNode index = new ObjectMapper().readTree(
                dir.resolve("r-full/checkpoints/global_step_10/model/index.json").toFile());
        for (int layer = 0; layer < 2; layer++) {
            for (int e = 0; e < 4; e++) {
                assertTrue(index.path("tensors").has("layers." + layer + ".experts." + e), "index lacks expert " + e);
            }
        }
        // export-hf of the EP 2 checkpoint on one process reads every expert from the two ranks' files.
        java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
        assertEquals(0, ai.omnispark.trainer.cli.MainAccess.run(new String[] {"export-hf", "--checkpoint",
                dir.resolve("r-full/checkpoints/global_step_20").toString(), "--out",
                dir.resolve("r-exported").toString()}, new java.io.PrintStream(printed)), printed.toString());
        Map<String, float[]> exported = weights(dir.resolve("r-exported"));
        assertEquals(weights(fullHf).keySet(), exported.keySet());
        for (Map.Entry<String, float[]> t : weights(fullHf).entrySet()) {
            assertArrayEquals(t.getValue(), exported.get(t.getKey()), 0f, "export-hf " + t.getKey());
        }

        assertThrows(Exception.class, () -> TestRuns.train(settings("qwen3_moe", "r-cut",
                concat(ep2, "debug.fail_at_step=11"))));
        Map<Long, StepResult> resumed = TestRuns.train(settings("qwen3_moe", "r-cut",
                concat(ep2, "train.load_checkpoint_path=auto")));
        Map<Long, StepResult> tail = new LinkedHashMap<>(full);
        tail.keySet().removeIf(k -> k <= 10);
        assertEquals(tail.keySet(), resumed.keySet());
        for (long step : tail.keySet()) {
            assertEquals(tail.get(step).loss(), resumed.get(step).loss(), 0.0, "step " + step + " loss after resume");
            assertEquals(tail.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0, "step " + step + " grad norm");
        }
        Map<String, float[]> fw = weights(fullHf);
        Map<String, float[]> rw = weights(dir.resolve("r-cut/final_hf"));
        for (String name : fw.keySet()) {
            assertArrayEquals(fw.get(name), rw.get(name), 0f, name);
        }

        // Saved by EP 4, resumed by EP 2: its own experts come from other ranks' files.
        String[] ep4 = {"train.world_size=4", "train.expert_parallel_size=4", "train.save_steps=10",
            "train.comm_transport=unix"};
        assertThrows(Exception.class, () -> TestRuns.train(settings("qwen3_moe", "r-ep4",
                concat(ep4, "debug.fail_at_step=11"))));
        copy(dir.resolve("r-ep4/checkpoints"), dir.resolve("r-ep4to2/checkpoints"));
        Map<Long, StepResult> resharded = TestRuns.train(settings("qwen3_moe", "r-ep4to2",
                concat(ep2, "train.load_checkpoint_path=auto", "train.resume_policy=allow_changes")));
        assertSameRun("ep4 -> ep2 resume", tail, fullHf, resharded, dir.resolve("r-ep4to2/final_hf"));
    }

    @Test
    void anEpSizeThatDoesNotDivideTheExpertsIsRefused() throws Exception {
        Path three = dir.resolve("three.json");
        Files.writeString(three, Files.readString(model("qwen3_moe")).replace("\"num_experts\":4", "\"num_experts\":3"));
        Exception e = assertThrows(Exception.class, () -> TestRuns.train(Settings.fromTree(null, List.of(
                "model.config_path=" + three, "data.train_path=synthetic://text", "data.max_seq_len=32",
                "train.output_dir=" + dir.resolve("bad"), "train.global_batch_size=2", "train.micro_batch_size=1",
                "train.max_steps=1", "train.world_size=2", "train.expert_parallel_size=2", "train.threads=1"), "test")));
        String message = String.valueOf(e.getMessage()) + (e.getCause() == null ? "" : e.getCause().getMessage());
        assertTrue(message.contains("unit layers.0.experts.0: 3 parts across mesh dim ep cannot be split over 2 ranks: "
                + "ep must divide 3"), message);
    }
}
