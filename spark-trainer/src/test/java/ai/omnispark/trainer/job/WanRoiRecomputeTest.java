package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.recompute.RoiSelection;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Wan DiT under train.recompute none, block and roi: its blocks are cut into steps
 * (WanBlockSegment.steps), and the three runs do the same arithmetic keeping different tensors, so
 * every step's loss and grad norm agree within 1e-6 (relative) on one rank. Rows are 256 latent
 * tokens (4 x 4 x 16 x 16 latents, patch 1 x 2 x 2) so kept activations are megabytes, well above
 * the heap noise the calibration reads (see RoiRecomputeTest.budgetBetween); roi's budget is the
 * geometric middle of the smallest reachable and none's peak, so some steps must be recomputed.
 */
class WanRoiRecomputeTest {
    @TempDir
    static Path dir;

    private static List<Sample> rows() {
        SplittableRandom random = new SplittableRandom(5);
        List<Sample> rows = new ArrayList<>();
        for (int r = 0; r < 4; r++) {
            float[] latents = new float[4 * 4 * 16 * 16];
            for (int i = 0; i < latents.length; i++) {
                latents[i] = (float) (Math.sin(0.1 * i + r) + 0.1 * random.nextGaussian());
            }
            float[] text = new float[5 * 16];
            for (int i = 0; i < text.length; i++) {
                text[i] = (float) random.nextGaussian();
            }
            rows.add(Sample.latents(latents, new int[] {4, 4, 16, 16}, text, new int[] {5, 16}, null, null, null));
        }
        return rows;
    }

    /** A run's steps and, under roi, the recompute choice it made. */
    private record Run(Map<Long, StepResult> steps, RoiSelection choice) {
        StepResult get(long step) {
            return steps.get(step);
        }

        java.util.Set<Long> keySet() {
            return steps.keySet();
        }
    }

    private static Run run(String... sets) throws Exception {
        Path model = dir.resolve("tiny-wan.json");
        Files.writeString(model, """
                {"_class_name":"WanTransformer3DModel","_diffusers_version":"0.33.1","patch_size":[1,2,2],
                 "num_attention_heads":2,"attention_head_dim":16,"in_channels":4,"out_channels":4,"text_dim":16,
                 "freq_dim":32,"ffn_dim":64,"num_layers":2,"cross_attn_norm":true,"qk_norm":"rms_norm_across_heads",
                 "eps":1e-6,"image_dim":null,"added_kv_proj_dim":null,"rope_max_seq_len":1024,
                 "pos_embed_seq_len":null}""");
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=" + dir.resolve("rows"),
                "train.output_dir=" + dir.resolve("out"), "train.global_batch_size=4", "train.micro_batch_size=2",
                "train.lr=2e-3", "train.max_steps=3", "train.threads=1", "train.world_size=1",
                "train.data_parallel_mode=none", "train.flow_shift=3.0", "train.text_dropout=0.3"));
        all.addAll(List.of(sets));
        Settings settings = Settings.fromTree(null, all, "test");
        TrainConfig config = TrainConfig.from(settings, 1);
        Map<Long, StepResult> steps = new LinkedHashMap<>();
        try (RankContext ctx = RankContext.builder().rank(0).worldSize(1).threads(1).build()) {
            ctx.bindThread();
            try (RankAssembly a = RankAssembly.open(config.job(), ctx, config.seed(), null, null, true)) {
                Trainer t = a.train(config, ctx, InMemoryRows.ofSamples(rows(), config.seed(), 0, 1),
                        DataParallel.single());
                while (t.step() < 3) {
                    StepResult s = t.trainStep();
                    steps.put(s.step(), s);
                }
                return new Run(steps, t.recomputeChoice());
            }
        }
    }

    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append('\n');
        }
        return all.toString();
    }

    @Test
    void noneBlockAndRoiGiveTheSameLossesAndGradients() throws Exception {
        Run none = run("train.recompute=none");
        Run block = run("train.recompute=block");
        Exception refused = assertThrows(Exception.class, () -> run("train.recompute=roi",
                "train.activation_memory_budget_mb=0.0001"));
        String why = messages(refused);
        Matcher smallest = Pattern.compile("smallest activation memory reachable by recomputing is [0-9.]+ MiB \\(([0-9]+) bytes\\)")
                .matcher(why);
        assertTrue(smallest.find(), why);
        long reachable = Long.parseLong(smallest.group(1));
        double nonePeak = none.get(1L).metrics().get(Trainer.ACTIVATION_PEAK);
        assertTrue(nonePeak > 3 * reachable, "none keeps " + nonePeak + " bytes, smallest reachable " + reachable);
        double budgetMb = Math.sqrt(reachable * nonePeak) / (1 << 20);
        Run roi = run("train.recompute=roi", "train.activation_memory_budget_mb=" + budgetMb);
        double roiPeak = roi.get(1L).metrics().get(Trainer.ACTIVATION_PEAK);
        System.out.printf("wan roi: none peak %.0f B, smallest reachable %d B, budget %.3f MiB, roi peak %.0f B, block peak %.0f B%n",
                nonePeak, reachable, budgetMb, roiPeak, block.get(1L).metrics().get(Trainer.ACTIVATION_PEAK));
        assertTrue(roiPeak < nonePeak, "roi keeps " + roiPeak + " bytes, none " + nonePeak);
        // The candidates are the blocks' steps, not whole blocks, and some of them are recomputed.
        String table = roi.choice().table();
        for (String step : List.of("norm1", "qkv", "attn", "attn_out", "cross", "ffn_up", "ffn_down")) {
            assertTrue(table.contains("blocks.1." + step + " "), step + " missing from\n" + table);
        }
        assertTrue(roi.choice().recomputed().stream().anyMatch(n -> n.matches("blocks\\.[01]\\.[a-z_0-9]+")),
                roi.choice().recomputed() + "\n" + table);
        System.out.println(table);
        for (Run other : List.of(block, roi)) {
            assertEquals(List.of(1L, 2L, 3L), new ArrayList<>(other.keySet()));
            for (long step : none.keySet()) {
                StepResult a = none.get(step);
                StepResult b = other.get(step);
                assertEquals(a.loss(), b.loss(), 1e-6 * Math.abs(a.loss()), "loss of step " + step);
                assertEquals(a.gradNorm(), b.gradNorm(), 1e-6 * a.gradNorm(), "grad norm of step " + step);
            }
        }
    }
}
