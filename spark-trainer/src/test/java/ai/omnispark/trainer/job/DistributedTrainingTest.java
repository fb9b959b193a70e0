package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.concat;
import static ai.omnispark.trainer.testing.TestRuns.copy;
import static ai.omnispark.trainer.testing.TestRuns.train;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import ai.omnispark.trainer.testing.TinyModel;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trains a tiny Qwen3 on 1 rank and on 2, 3 and 4 ranks (FSDP, HSDP, DDP, keep-gathered), and
 * resumes interrupted runs, over 20 steps with gradient accumulation. Every loss and every
 * step's gradient norm before clipping must agree with one rank within {@link #LOSS_TOLERANCE}
 * relative, and every final weight within {@link #WEIGHT_TOLERANCE}; the layouts differ only in
 * the order in which gradients are summed. The norm is what catches a wrong gradient scale (a sum
 * where a mean belongs, replicas counted twice): AdamW is scale-invariant and clipping bounds the
 * update, so losses and weights barely show it. A resumed run must reproduce the uninterrupted one
 * bit for bit.
 */
class DistributedTrainingTest {
    static final double WEIGHT_TOLERANCE = 1e-5;
    static final double LOSS_TOLERANCE = 1e-5;

    @TempDir
    static Path dir;

    static Path modelConfig;

    @BeforeAll
    static void writeModel() throws Exception {
        tinyModel();
    }

    static void tinyModel() throws IOException {
        modelConfig = TinyModel.write(dir, false);
    }

    private static Settings settings(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + modelConfig, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=12", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.max_steps=3", "train.threads=1", "train.comm_timeout_s=30",
                "train.weight_decay=0.01", "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    static void assertSameRun(String what, Map<Long, StepResult> ref, Map<String, float[]> refW,
            Map<Long, StepResult> run, Map<String, float[]> w) {
        assertEquals(ref.keySet(), run.keySet(), what + ": steps");
        double worstLoss = 0;
        double worstNorm = 0;
        double worstWeight = 0;
        for (long step : ref.keySet()) {
            double refLoss = ref.get(step).loss();
            double loss = run.get(step).loss();
            double rel = Math.abs(refLoss - loss) / Math.abs(refLoss);
            worstLoss = Math.max(worstLoss, rel);
            assertTrue(rel <= LOSS_TOLERANCE, what + ": step " + step + " loss " + loss + " vs " + refLoss);
            double refNorm = ref.get(step).gradNorm();
            double norm = run.get(step).gradNorm();
            double relNorm = Math.abs(refNorm - norm) / Math.abs(refNorm);
            worstNorm = Math.max(worstNorm, relNorm);
            assertTrue(relNorm <= LOSS_TOLERANCE, what + ": step " + step + " gradient norm before clipping " + norm
                    + " vs " + refNorm);
        }
        assertEquals(refW.keySet(), w.keySet(), what + ": tensors");
        for (String name : refW.keySet()) {
            float[] a = refW.get(name);
            float[] b = w.get(name);
            for (int i = 0; i < a.length; i++) {
                worstWeight = Math.max(worstWeight, Math.abs(a[i] - b[i]));
                assertTrue(Math.abs(a[i] - b[i]) <= WEIGHT_TOLERANCE,
                        what + ": " + name + "[" + i + "] " + b[i] + " vs " + a[i]);
            }
        }
        System.out.printf("%s vs one rank: max loss difference %.2e relative, grad norm %.2e relative, max weight "
                + "difference %.2e%n", what, worstLoss, worstNorm, worstWeight);
    }

    @Test
    void everyLayoutMatchesOneRank() throws Exception {
        Map<Long, StepResult> refLoss = train(settings("ref", "train.data_parallel_mode=none", "train.max_steps=20"));
        Map<String, float[]> refW = weights(dir.resolve("ref/final_hf"));
        assertEquals(20, refLoss.size());
        // The launcher's default transport (in-process for threads of one JVM), TCP and Unix sockets.
        String[][] layouts = {
            {"fsdp2", "train.world_size=2"},
            {"fsdp2-tcp", "train.world_size=2", "train.comm_transport=tcp"},
            {"fsdp2-unix", "train.world_size=2", "train.comm_transport=unix"},
            {"fsdp3", "train.world_size=3"},
            {"fsdp4", "train.world_size=4"},
            {"fsdp4-tcp", "train.world_size=4", "train.comm_transport=tcp"},
            {"hsdp2x2", "train.world_size=4", "train.data_parallel_replicate_size=2"},
            {"hsdp2x2-tcp", "train.world_size=4", "train.data_parallel_replicate_size=2", "train.comm_transport=tcp"},
            {"ddp2", "train.world_size=2", "train.data_parallel_mode=ddp"},
            {"fsdp2-keep", "train.world_size=2", "train.enable_full_shard=false"},
        };
        for (String[] layout : layouts) {
            String[] sets = concat(java.util.Arrays.copyOfRange(layout, 1, layout.length), "train.max_steps=20");
            Map<Long, StepResult> loss = train(settings(layout[0], sets));
            assertSameRun(layout[0], refLoss, refW, loss, weights(dir.resolve(layout[0] + "/final_hf")));
        }
    }

    /**
     * The fused attention kernels through the whole job: one rank on the eager kernel (today's
     * materialised attention) is the reference; FSDP on 2 ranks with SDPA (both rank threads running
     * the generated modules at once), one rank with SDPA and 2 ranks with the chunked kernel must
     * reproduce its losses, gradient norms and final weights within the layouts' tolerances. The
     * packed rows of data.max_seq_len 64 hold several documents each, so the doc-aware mask is used.
     */
    @Test
    void attentionKernelsReproduceTheEagerRun() throws Exception {
        Map<Long, StepResult> ref = train(settings("attn-eager", "train.data_parallel_mode=none",
                "model.attention_impl=eager"));
        Map<String, float[]> refW = weights(dir.resolve("attn-eager/final_hf"));
        assertEquals(3, ref.size());
        String[][] runs = {
            {"attn-sdpa-fsdp2", "train.world_size=2", "model.attention_impl=sdpa"},
            {"attn-sdpa-1", "train.data_parallel_mode=none", "model.attention_impl=sdpa"},
            {"attn-chunked-fsdp2", "train.world_size=2", "model.attention_impl=chunked"},
        };
        for (String[] run : runs) {
            Map<Long, StepResult> got = train(settings(run[0], java.util.Arrays.copyOfRange(run, 1, run.length)));
            assertSameRun(run[0], ref, refW, got, weights(dir.resolve(run[0] + "/final_hf")));
        }
        Exception bad = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
                () -> train(settings("attn-bad", "train.data_parallel_mode=none", "model.attention_impl=flash")));
        StringBuilder messages = new StringBuilder();
        for (Throwable t = bad; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append('\n');
        }
        assertTrue(messages.toString().contains("model.attention_impl must be auto, sdpa, chunked or eager, got 'flash'"),
                messages.toString());
    }

    /**
     * The chunked loss head with 7 tokens per chunk (64-token micro-batches: nine chunks of 7 and
     * a last one of 1) under FSDP on two ranks against one rank, and one rank against the auto
     * chunk size (all 64 tokens in one chunk); a negative chunk is refused naming the key.
     */
    @Test
    void chunkedLossUnderFsdpMatchesOneRank() throws Exception {
        Map<Long, StepResult> ref = train(settings("chunk7-ref", "train.data_parallel_mode=none",
                "model.loss_chunk_tokens=7", "train.max_steps=10"));
        Map<String, float[]> refW = weights(dir.resolve("chunk7-ref/final_hf"));
        assertEquals(10, ref.size());
        Map<Long, StepResult> fsdp = train(settings("chunk7-fsdp2", "train.world_size=2", "model.loss_chunk_tokens=7",
                "train.max_steps=10"));
        assertSameRun("fsdp2 loss_chunk_tokens=7", ref, refW, fsdp, weights(dir.resolve("chunk7-fsdp2/final_hf")));
        Map<Long, StepResult> auto = train(settings("chunk-auto", "train.data_parallel_mode=none", "train.max_steps=10"));
        assertSameRun("one rank, auto chunk", ref, refW, auto, weights(dir.resolve("chunk-auto/final_hf")));
        Exception e = assertThrows(Exception.class, () -> train(settings("chunk-bad", "train.data_parallel_mode=none",
                "model.loss_chunk_tokens=-1")));
        String messages = "";
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages += t.getMessage() + " | ";
        }
        assertTrue(messages.contains("model.loss_chunk_tokens must be >= 0 (0 = auto), got -1"), messages);
    }

    @Test
    void resumeReproducesTheUninterruptedRunAndReshards() throws Exception {
        String[] common = {"train.max_steps=20", "train.save_steps=10", "train.world_size=2"};
        Map<Long, StepResult> full = train(settings("full", common));
        Map<String, float[]> fullW = weights(dir.resolve("full/final_hf"));
        // export-hf of the 2-rank checkpoint of the last step gives the final weights exactly.
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        assertEquals(0, ai.omnispark.trainer.cli.MainAccess.run(new String[] {"export-hf", "--checkpoint",
                dir.resolve("full/checkpoints/global_step_20").toString(), "--out", dir.resolve("exported").toString()},
                new PrintStream(printed)));
        Map<String, float[]> exported = weights(dir.resolve("exported"));
        for (String name : fullW.keySet()) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(fullW.get(name), exported.get(name), name);
        }

        Exception failure = assertThrows(Exception.class,
                () -> train(settings("cut", concat(common, "debug.fail_at_step=11"))));
        assertTrue(failure.getMessage().contains("fail"), failure.toString());
        Path ckpts = dir.resolve("cut/checkpoints");
        assertEquals("10", Files.readString(ckpts.resolve("latest_checkpointed_iteration.txt")).trim());

        // Same world: bit-identical losses from step 11 on, and the same final weights.
        copy(dir.resolve("cut"), dir.resolve("cut-same"));
        Map<Long, StepResult> resumed = train(settings("cut-same", concat(common, "train.load_checkpoint_path=auto")));
        List<Long> tail = new ArrayList<>();
        for (long step = 11; step <= 20; step++) {
            tail.add(step);
        }
        assertEquals(tail, new ArrayList<>(resumed.keySet()));
        for (long step = 11; step <= 20; step++) {
            assertEquals(full.get(step).loss(), resumed.get(step).loss(), 0.0, "step " + step + " loss after resume");
            assertEquals(full.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0,
                    "step " + step + " gradient norm after resume");
        }
        Map<String, float[]> resumedW = weights(dir.resolve("cut-same/final_hf"));
        for (String name : fullW.keySet()) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(fullW.get(name), resumedW.get(name), 0f, name);
        }
        Map<Long, StepResult> fullTail = new LinkedHashMap<>(full);
        fullTail.keySet().removeIf(k -> k < 11);

        // Saved by 2 ranks, resumed on 1 and on 4 (resharded): equal within the float tolerance.
        copy(dir.resolve("cut"), dir.resolve("cut-one"));
        Map<Long, StepResult> one = train(settings("cut-one", "train.max_steps=20", "train.save_steps=10",
                "train.world_size=1", "train.load_checkpoint_path=auto", "train.resume_policy=allow_changes"));
        assertSameRun("resume on 1", fullTail, fullW, one, weights(dir.resolve("cut-one/final_hf")));
        // Saved by HSDP 2x2 (each slice twice), resumed on FSDP 2.
        String[] hsdp = {"train.max_steps=20", "train.save_steps=10", "train.world_size=4",
            "train.data_parallel_replicate_size=2"};
        train(settings("hsdp-full", hsdp));
        Map<Long, StepResult> fromHsdp = new LinkedHashMap<>();
        Path hsdpCkpt = dir.resolve("hsdp-full/checkpoints/global_step_10").toAbsolutePath();
        fromHsdp.putAll(train(settings("hsdp-resumed", "train.max_steps=20", "train.world_size=2",
                "train.load_checkpoint_path=" + hsdpCkpt, "train.resume_policy=allow_changes")));
        assertSameRun("hsdp 2x2 -> fsdp 2", fullTail, fullW, fromHsdp, weights(dir.resolve("hsdp-resumed/final_hf")));
        copy(dir.resolve("cut"), dir.resolve("cut-four"));
        Map<Long, StepResult> four = train(settings("cut-four", "train.max_steps=20", "train.save_steps=10",
                "train.world_size=4", "train.load_checkpoint_path=auto", "train.resume_policy=allow_changes"));
        assertSameRun("resume on 4", fullTail, fullW, four, weights(dir.resolve("cut-four/final_hf")));
    }

    @Test
    void aChangedConfigurationRefusesTheCheckpointNamingTheKeys() throws Exception {
        train(settings("fp", "train.max_steps=2", "train.save_steps=1"));
        Path tied = Files.createDirectories(dir.resolve("tied"));
        String[][] changes = {
            {"data.max_seq_len=32", "data.max_seq_len: 64 -> 32"},
            {"model.config_path=" + TinyModel.write(tied, true), "model.config.tie_word_embeddings: false -> true"},
            {"train.world_size=2", "train.world_size: 1 -> 2"},
        };
        for (String[] change : changes) {
            Exception e = assertThrows(Exception.class, () -> train(settings("fp", "train.max_steps=2",
                    "train.load_checkpoint_path=auto", change[0])));
            assertTrue(e.getMessage().contains(change[1]), change[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("train.resume_policy=allow_changes"), e.getMessage());
        }
        // The plan's mode and group sizes count too, not only the world size.
        Exception e = assertThrows(Exception.class, () -> train(settings("fp", "train.max_steps=2",
                "train.load_checkpoint_path=auto", "train.world_size=2", "train.data_parallel_mode=ddp")));
        assertTrue(e.getMessage().contains("train.data_parallel_mode: fsdp -> ddp")
                && e.getMessage().contains("train.data_parallel_replicate_size: 1 -> 2"), e.getMessage());

        // Allowed: the run resumes and prints what changed.
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        LocalLauncher.run(settings("fp", "train.max_steps=2", "train.load_checkpoint_path=auto",
                "train.resume_policy=allow_changes", "train.world_size=2"), (r, total) -> {},
                new PrintStream(printed, true), 0);
        String log = printed.toString();
        assertTrue(log.contains("with a changed configuration (train.resume_policy=allow_changes)")
                && log.contains("train.world_size: 1 -> 2") && log.contains("resumed from"), log);

        Exception policy = assertThrows(Exception.class, () -> train(settings("fp", "train.resume_policy=sometimes")));
        assertTrue(policy.getMessage().contains("train.resume_policy is 'sometimes'"), policy.getMessage());
    }
}
