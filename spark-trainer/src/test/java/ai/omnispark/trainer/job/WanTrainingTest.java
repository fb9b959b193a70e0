package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.CommOptions;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny Wan T2V DiT (2 blocks, 2 heads x 16, ffn 64, 4 latent channels) trained by the trainer on
 * {@value #ROWS} in-memory latent rows ({@link Sample#latents}) with the flow-matching objective,
 * text dropout 0.3 and gaussian timestep weights on: every rank builds its model from the job
 * config (RankAssembly, so the train.* diffusion keys reach the family), FSDP over in-process
 * ranks, micro-batches of one row (1 rank accumulates 8 a step, 2 ranks 4, 4 ranks 2).
 *
 * <p>Each step is a whole epoch, so every run sees the same rows per step. Noise, timesteps and
 * text dropout come from each data-parallel rank's own generator (seeded by train.seed and the dp
 * rank, checkpointed), so N ranks draw differently from 1 rank by design: FSDP over N ranks is
 * compared with DDP over the same N ranks (same rows, same generators, whole replicated weights):
 * equal within {@value #TOLERANCE} (loss, grad norm relative; final weights absolute). Resume: FSDP
 * 2 for 3 steps, its state (weights, optimizer, generators, data cursor) captured, a fresh assembly
 * from another seed restored from it and run to step 6, equals the uninterrupted run bit for bit.
 */
class WanTrainingTest {
    static final double TOLERANCE = 1e-5;
    static final int ROWS = 8;
    static final int STEPS = 6;

    @TempDir
    static Path dir;

    static Path model;

    @BeforeAll
    static void writeModel() throws Exception {
        model = dir.resolve("tiny-wan.json");
        Files.writeString(model, """
                {"_class_name":"WanTransformer3DModel","_diffusers_version":"0.33.1","patch_size":[1,2,2],
                 "num_attention_heads":2,"attention_head_dim":16,"in_channels":4,"out_channels":4,"text_dim":16,
                 "freq_dim":32,"ffn_dim":64,"num_layers":2,"cross_attn_norm":true,"qk_norm":"rms_norm_across_heads",
                 "eps":1e-6,"image_dim":null,"added_kv_proj_dim":null,"rope_max_seq_len":1024,
                 "pos_embed_seq_len":null}""");
    }

    static List<Sample> rows() {
        SplittableRandom random = new SplittableRandom(21);
        List<Sample> rows = new ArrayList<>();
        for (int r = 0; r < ROWS; r++) {
            float[] latents = new float[4 * 2 * 4 * 4];
            for (int i = 0; i < latents.length; i++) {
                latents[i] = (float) (Math.sin(0.3 * i + r) + 0.1 * random.nextGaussian());
            }
            float[] text = new float[5 * 16];
            for (int i = 0; i < text.length; i++) {
                text[i] = (float) random.nextGaussian();
            }
            rows.add(Sample.latents(latents, new int[] {4, 2, 4, 4}, text, new int[] {5, 16}, null, null, null));
        }
        return rows;
    }

    static Settings settings(int world, String... sets) {
        // data.train_path is required by the config but unread: the rows are in memory.
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=" + dir.resolve("rows"),
                "train.output_dir=" + dir.resolve("out"),
                "train.global_batch_size=" + ROWS, "train.micro_batch_size=1", "train.lr=2e-3",
                "train.max_steps=" + STEPS, "train.threads=1", "train.comm_timeout_s=60", "train.max_grad_norm=1.0",
                "train.flow_shift=3.0", "train.timestep_weighting=gaussian", "train.text_dropout=0.3",
                "train.world_size=" + world));
        if (java.util.Arrays.stream(sets).noneMatch(x -> x.startsWith("train.data_parallel_mode="))) {
            all.add(world == 1 ? "train.data_parallel_mode=none" : "train.data_parallel_mode=fsdp");
        }
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    /** Steps and final weights (by unit) of one run; {@code resumeAt} > 0 stops there and continues from captured state. */
    record Run(Map<Long, StepResult> steps, Map<String, float[]> weights) {}

    static Run run(Settings settings, int resumeAt) throws Exception {
        ParallelPlan plan = ParallelPlan.from(settings);
        int world = plan.worldSize();
        // Accumulation divides the global batch by the data-parallel ranks: world / sp under Ulysses.
        TrainConfig config = TrainConfig.from(settings, plan.dataParallelSize());
        List<Sample> rows = rows();
        List<Run> perRank = LocalLauncher.onRanks(world, CommOptions.inProcess(Duration.ofSeconds(60)), (rank, comm) -> {
            try (RankContext ctx = RankContext.builder().rank(rank).worldSize(world).threads(1).build()) {
                ctx.bindThread();
                DeviceMesh mesh = comm == null ? null : plan.mesh(comm);
                ShardGroup group = mesh == null ? null : mesh.dataParallelGroup(ctx.manager());
                DataParallel dp = mesh == null ? DataParallel.single() : DataParallel.over(mesh, group);
                Map<Long, StepResult> steps = new LinkedHashMap<>();
                try (DeviceMesh ownedMesh = mesh) {
                    RankState state = null;
                    long random = 0;
                    long[] cursor = null;
                    try (RankAssembly a = RankAssembly.open(config.job(), ctx, config.seed(), mesh, group, true)) {
                        Trainer t = a.train(config, ctx, InMemoryRows.ofSamples(rows, config.seed(), dp.rank(), dp.size()),
                                dp);
                        int until = resumeAt > 0 ? resumeAt : STEPS;
                        while (t.step() < until) {
                            StepResult s = t.trainStep();
                            steps.put(s.step(), s);
                        }
                        if (resumeAt <= 0) {
                            return new Run(steps, weights(a, ctx));
                        }
                        state = RankState.capture(a.params(), t.optimizer());
                        random = t.random().state();
                        cursor = t.rows().cursor();
                    }
                    // A fresh assembly from another seed: everything it continues with comes from the captured state.
                    try (RankAssembly b = RankAssembly.open(config.job(), ctx, config.seed() + 1, mesh, group, true)) {
                        InMemoryRows source = InMemoryRows.ofSamples(rows, config.seed(), dp.rank(), dp.size());
                        Trainer t = b.train(config, ctx, source, dp);
                        state.applyTo(b.params(), t.optimizer(), ctx.manager());
                        t.restore(resumeAt);
                        t.random().restore(random);
                        source.seek(cursor);
                        while (t.step() < STEPS) {
                            StepResult s = t.trainStep();
                            steps.put(s.step(), s);
                        }
                        return new Run(steps, weights(b, ctx));
                    }
                }
            }
        });
        return perRank.get(0);
    }

    private static Map<String, float[]> weights(RankAssembly a, RankContext ctx) {
        Map<String, float[]> w = new LinkedHashMap<>();
        try (NDManager scope = ctx.manager().newSubManager()) {
            for (UnitLayout u : a.model().units()) {
                w.put(u.name(), a.params().fullWeights(u.name(), scope).toFloatArray());
            }
        }
        return w;
    }

    @Test
    void fsdpMatchesDdpAndResumeIsBitIdentical() throws Exception {
        Run one = run(settings(1), 0);
        assertEquals(STEPS, one.steps().size());
        double first = one.steps().get(1L).loss();
        double last = one.steps().get((long) STEPS).loss();
        System.out.printf("wan 1 rank: loss %.5f -> %.5f over %d steps%n", first, last, STEPS);
        assertTrue(Double.isFinite(first) && first > 0, "loss " + first);
        assertTrue(one.steps().get(1L).lossTerms().containsKey("mse"), one.steps().get(1L).lossTerms().toString());
        for (int world : new int[] {2, 4}) {
            Run ddp = run(settings(world, "train.data_parallel_mode=ddp"), 0);
            Run fsdp = run(settings(world), 0);
            double worst = 0;
            for (long step : ddp.steps().keySet()) {
                StepResult a = ddp.steps().get(step);
                StepResult b = fsdp.steps().get(step);
                for (double[] pair : new double[][] {{a.loss(), b.loss()}, {a.gradNorm(), b.gradNorm()}}) {
                    double rel = Math.abs(pair[0] - pair[1]) / Math.abs(pair[0]);
                    worst = Math.max(worst, rel);
                    assertTrue(rel <= TOLERANCE, "fsdp" + world + " vs ddp" + world + " step " + step + ": " + pair[0]
                            + " vs " + pair[1]);
                }
            }
            double w = 0;
            for (String unit : ddp.weights().keySet()) {
                float[] x = ddp.weights().get(unit);
                float[] y = fsdp.weights().get(unit);
                for (int i = 0; i < x.length; i++) {
                    w = Math.max(w, Math.abs(x[i] - y[i]));
                    assertTrue(Math.abs(x[i] - y[i]) <= TOLERANCE, "fsdp" + world + " " + unit + "[" + i + "]");
                }
            }
            System.out.printf("wan fsdp%d vs ddp%d: loss/grad norm within %.2e relative, weights within %.2e%n", world,
                    world, worst, w);
        }
        Run straight = run(settings(2), 0);
        Run resumed = run(settings(2), 3);
        assertEquals(straight.steps().keySet(), resumed.steps().keySet());
        for (long step : straight.steps().keySet()) {
            assertEquals(straight.steps().get(step).loss(), resumed.steps().get(step).loss(), 0, "resumed step " + step);
            assertEquals(straight.steps().get(step).gradNorm(), resumed.steps().get(step).gradNorm(), 0);
        }
        for (String unit : straight.weights().keySet()) {
            assertArrayEquals(straight.weights().get(unit), resumed.weights().get(unit), unit);
        }
    }
}
