package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.concat;
import static ai.omnispark.trainer.testing.TestRuns.train;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TinyModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ulysses sequence parallelism through the whole job against one rank, 20 steps of 4 micro-batches
 * (global batch 8, micro-batch 2): every loss and gradient norm within 1e-5 relative and every final
 * weight within 1e-5 ({@link DistributedTrainingTest#assertSameRun}). The tiny Qwen3 has 4 query and 2
 * key/value heads, so SP 4 repeats each k/v head; the rows pack several short documents each
 * (asserted below), so attention runs with the document mask on the gathered rows. Layouts: SP 2
 * and FSDP 2 x SP 2 over the in-process and the Unix-socket transport, SP 2 with recompute, SP 4 at a
 * row length (62) it does not divide (padded to 64) over both transports, a Qwen3-MoE with the
 * load-balancing loss at SP 2 (with and without recompute), attention and LoRA dropout at SP 2, a
 * Qwen2 (q/k/v biases) with tied embeddings at SP 2. A run cut at step 11 and resumed at SP 2
 * reproduces the uninterrupted one bit for bit; SP 4's step-10 checkpoint resumed on one rank
 * matches the one-rank run.
 */
class UlyssesTrainingTest {
    @TempDir
    static Path dir;

    static Path modelConfig;
    static Path text;

    /** The tiny model, and short documents (two words to a sentence) that pack two or more into most rows of 64. */
    @BeforeAll
    static void writeModelAndText() throws Exception {
        modelConfig = TinyModel.write(dir, false);
        SplittableRandom random = new SplittableRandom(7);
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 1200; i++) {
            SyntheticText.Scene scene = SyntheticText.scene(random);
            String doc = switch (random.nextInt(3)) {
                case 0 -> scene.colour() + " " + scene.shape();
                case 1 -> scene.motionCaption();
                default -> scene.caption();
            };
            lines.append("{\"text\":\"").append(doc).append("\"}\n");
        }
        text = dir.resolve("short-docs.jsonl");
        Files.writeString(text, lines.toString());
    }

    private static Settings settings(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + modelConfig, "data.train_path=" + text, "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=8", "train.micro_batch_size=2",
                "train.lr=1e-3", "train.max_steps=20", "train.threads=1", "train.comm_timeout_s=30",
                "train.weight_decay=0.01", "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    private static void assertSameRun(String what, Map<Long, StepResult> ref, Path refDir, Map<Long, StepResult> run,
            String runDir) throws Exception {
        DistributedTrainingTest.assertSameRun(what, ref, weights(refDir.resolve("final_hf")), run,
                weights(dir.resolve(runDir).resolve("final_hf")));
    }

    @Test
    void sp2LayoutsMatchOneRankAndResumeBitForBit() throws Exception {
        Settings refSettings = settings("ref64", "train.data_parallel_mode=none");
        assertPackedRows(refSettings);
        Map<Long, StepResult> ref = train(refSettings);
        assertEquals(20, ref.size());
        Path refDir = dir.resolve("ref64");
        String[] sp2 = {"train.world_size=2", "train.ulysses_parallel_size=2"};
        Map<Long, StepResult> full = train(settings("sp2", concat(sp2, "train.save_steps=10")));
        assertSameRun("sp2", ref, refDir, full, "sp2");
        String[][] layouts = {
            {"sp2-unix", "train.world_size=2", "train.ulysses_parallel_size=2", "train.comm_transport=unix"},
            // VeOmni's nesting of the key
            {"fsdp2xsp2", "train.world_size=4", "train.accelerator.ulysses_size=2"},
            {"fsdp2xsp2-unix", "train.world_size=4", "train.accelerator.ulysses_size=2", "train.comm_transport=unix"},
            {"sp2-recompute", "train.world_size=2", "train.ulysses_parallel_size=2",
                "train.enable_gradient_checkpointing=true"},
        };
        for (String[] layout : layouts) {
            Map<Long, StepResult> run = train(settings(layout[0], Arrays.copyOfRange(layout, 1, layout.length)));
            assertSameRun(layout[0], ref, refDir, run, layout[0]);
        }

        Exception failure = assertThrows(Exception.class,
                () -> train(settings("sp2-cut", concat(sp2, "train.save_steps=10", "debug.fail_at_step=11"))));
        assertTrue(failure.getMessage().contains("fail"), failure.toString());
        Map<Long, StepResult> resumed = train(settings("sp2-cut", concat(sp2, "train.save_steps=10",
                "train.load_checkpoint_path=auto")));
        assertEquals(List.of(11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L, 20L), new ArrayList<>(resumed.keySet()));
        for (long step = 11; step <= 20; step++) {
            assertEquals(full.get(step).loss(), resumed.get(step).loss(), 0.0, "step " + step + " loss after resume");
            assertEquals(full.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0,
                    "step " + step + " gradient norm after resume");
        }
        Map<String, float[]> fullW = weights(dir.resolve("sp2/final_hf"));
        Map<String, float[]> resumedW = weights(dir.resolve("sp2-cut/final_hf"));
        for (String name : fullW.keySet()) {
            assertArrayEquals(fullW.get(name), resumedW.get(name), 0f, name);
        }
    }

    @Test
    void sp4AtALengthItDoesNotDivideMatchesOneRankAndReshardsToOne() throws Exception {
        Map<Long, StepResult> ref = train(settings("ref62", "train.data_parallel_mode=none", "data.max_seq_len=62"));
        Path refDir = dir.resolve("ref62");
        String[] sp4 = {"data.max_seq_len=62", "train.world_size=4", "train.ulysses_parallel_size=4"};
        assertSameRun("sp4 len 62", ref, refDir, train(settings("sp4", concat(sp4, "train.save_steps=10"))), "sp4");
        assertSameRun("sp4 len 62 unix", ref, refDir, train(settings("sp4-unix", concat(sp4,
                "train.comm_transport=unix"))), "sp4-unix");

        // SP 4's checkpoint of step 10 (every unit sharded over the 4 sp ranks) resumed on one rank.
        Path step10 = dir.resolve("sp4/checkpoints/global_step_10").toAbsolutePath();
        Map<Long, StepResult> one = train(settings("sp4-to-1", "data.max_seq_len=62", "train.data_parallel_mode=none",
                "train.load_checkpoint_path=" + step10, "train.resume_policy=allow_changes"));
        Map<Long, StepResult> refTail = new LinkedHashMap<>(ref);
        refTail.keySet().removeIf(step -> step < 11);
        assertSameRun("sp4 step 10 -> one rank", refTail, refDir, one, "sp4-to-1");
    }

    @Test
    void moeWithTheAuxLossAtSp2MatchesOneRank() throws Exception {
        Path moe = dir.resolve("tiny-moe.json");
        Files.writeString(moe, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":0.01}
                """);
        Map<Long, StepResult> ref = train(settings("moe-ref", "model.config_path=" + moe,
                "data.train_path=synthetic://text", "train.data_parallel_mode=none"));
        Map<Long, StepResult> sp2 = train(settings("moe-sp2", "model.config_path=" + moe,
                "data.train_path=synthetic://text", "train.world_size=2", "train.ulysses_parallel_size=2"));
        assertSameRun("moe sp2", ref, dir.resolve("moe-ref"), sp2, "moe-sp2");
        assertSameRun("moe sp2 recompute", ref, dir.resolve("moe-ref"), train(settings("moe-sp2-recompute",
                "model.config_path=" + moe, "data.train_path=synthetic://text", "train.world_size=2",
                "train.ulysses_parallel_size=2", "train.enable_gradient_checkpointing=true")), "moe-sp2-recompute");
        double worstAux = 0;
        for (long step : ref.keySet()) {
            double aux = ref.get(step).lossTerms().get("aux");
            // coef 0.01 times aux, which is top_k (2) for a balanced router and at most num_experts
            assertTrue(aux >= 0.01 && aux <= 0.04, "step " + step + " loss_aux " + aux);
            double rel = Math.abs(aux - sp2.get(step).lossTerms().get("aux")) / aux;
            worstAux = Math.max(worstAux, rel);
            assertTrue(rel <= DistributedTrainingTest.LOSS_TOLERANCE, "step " + step + ": loss_aux at sp 2 "
                    + sp2.get(step).lossTerms().get("aux") + " vs " + aux);
        }
        System.out.printf("moe sp2: loss_aux within %.2e relative of one rank%n", worstAux);
    }

    /**
     * The random masks under Ulysses: with attention dropout (eager kernel; each sp rank applies the
     * head slice of the masks the one-rank collator draws) and then LoRA with adapter dropout on that
     * run's weights (the adapters' masks cut by token), SP 2 reproduces one rank: one data-parallel
     * rank, so the same generator stream on both.
     */
    @Test
    void dropoutMasksAndLoraAtSp2MatchOneRank() throws Exception {
        Path dropout = dir.resolve("tiny-dropout.json");
        Files.writeString(dropout, Files.readString(modelConfig).replace("\"rms_norm_eps\"",
                "\"attention_dropout\":0.1,\"rms_norm_eps\""));
        String[] sp2 = {"train.world_size=2", "train.ulysses_parallel_size=2"};
        Map<Long, StepResult> ref = train(settings("drop-ref", "model.config_path=" + dropout,
                "train.data_parallel_mode=none", "train.max_steps=8"));
        assertSameRun("sp2 attention dropout", ref, dir.resolve("drop-ref"), train(settings("drop-sp2",
                concat(sp2, "model.config_path=" + dropout, "train.max_steps=8"))), "drop-sp2");

        String[] lora = {"model.config_path=", "model.model_path=" + dir.resolve("drop-ref/final_hf"),
            "model.lora_config.rank=4", "model.lora_config.alpha=8", "model.lora_config.dropout=0.1",
            "model.lora_config.lora_modules=q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
            "train.max_steps=6"};
        Map<Long, StepResult> loraRef = train(settings("lora-ref", concat(lora, "train.data_parallel_mode=none")));
        assertSameRun("sp2 lora", loraRef, dir.resolve("lora-ref"), train(settings("lora-sp2", concat(lora, sp2))),
                "lora-sp2");
    }

    /** Qwen2's q/k/v biases (no q/k norm) and tied embeddings at SP 2, 10 steps. */
    @Test
    void qwen2WithBiasesAndTiedEmbeddingsAtSp2MatchesOneRank() throws Exception {
        Path qwen2 = dir.resolve("tiny-qwen2.json");
        Files.writeString(qwen2, Files.readString(TinyModel.write(Files.createDirectories(dir.resolve("tied")), true))
                .replace("Qwen3ForCausalLM", "Qwen2ForCausalLM").replace("\"qwen3\"", "\"qwen2\""));
        Map<Long, StepResult> ref = train(settings("qwen2-ref", "model.config_path=" + qwen2,
                "train.data_parallel_mode=none", "train.max_steps=10"));
        Map<Long, StepResult> sp2 = train(settings("qwen2-sp2", "model.config_path=" + qwen2, "train.world_size=2",
                "train.ulysses_parallel_size=2", "train.max_steps=10"));
        assertSameRun("qwen2 tied sp2", ref, dir.resolve("qwen2-ref"), sp2, "qwen2-sp2");
        assertTrue(weights(dir.resolve("qwen2-sp2/final_hf")).containsKey("model.layers.0.self_attn.q_proj.bias"),
                "a qwen2 export has the q/k/v biases");
    }

    @Test
    void headsTheSpSizeDoesNotDivideAreRefused() {
        Exception e = assertThrows(Exception.class, () -> train(settings("sp3", "train.world_size=3",
                "train.ulysses_parallel_size=3", "train.max_steps=1")));
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append('\n');
        }
        assertTrue(messages.toString().contains("num_attention_heads (4) is not divisible by the ulysses size (3)"),
                messages.toString());
    }

    /** Most rows hold several documents: the document mask is exercised across sp slices. */
    private static void assertPackedRows(Settings s) throws Exception {
        JobConfig job = JobConfig.from(s);
        Tokenizer tokenizer = TrainingData.tokenizer(job);
        List<PackedRow> rows = TrainingData.rows(job, tokenizer);
        long multi = rows.stream().filter(r -> Arrays.stream(r.docIds()).max().orElse(0) >= 1).count();
        assertTrue(multi > rows.size() * 3 / 4, multi + " of " + rows.size() + " rows hold two documents or more");
    }
}
