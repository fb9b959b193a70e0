package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.plan.PlanCandidate;
import ai.omnispark.trainer.plan.RecomputePolicy;
import ai.omnispark.trainer.plan.StateMemory;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlanCommandTest {
    static final Path CONF = Path.of("..", "conf");
    /** The example's model path is relative to the repository root; tests run in spark-trainer/. */
    static final String MOE_MODEL = "model.config_path=" + CONF.resolve("models/tiny-qwen3-moe.json");

    @TempDir
    static Path dir;

    /** A 3-layer MoE (layer 1 dense) of 4 experts whose unit sizes do not divide evenly by 2. */
    private static Settings moe() throws Exception {
        Path model = dir.resolve("moe.json");
        Files.writeString(model, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[1],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":0.01}
                """);
        return Settings.fromTree(null, List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=32", "train.output_dir=" + dir.resolve("moe-out"), "train.global_batch_size=4",
                "train.micro_batch_size=1", "train.lr=1e-3", "train.max_steps=10"), "test");
    }

    @Test
    void predictedStateBytesAreWhatTheRealStoresHoldOnTheFullestRank() throws Exception {
        Settings s = moe();
        List<PlanCandidate> plans = List.of(new PlanCandidate(1, 2, 1, 1, RecomputePolicy.NONE, 1),
                new PlanCandidate(1, 1, 1, 2, RecomputePolicy.NONE, 1),
                new PlanCandidate(2, 1, 1, 1, RecomputePolicy.NONE, 1),
                new PlanCandidate(1, 1, 2, 1, RecomputePolicy.NONE, 1));
        try (Model model = ModelFamilies.load(Path.of(JobConfig.from(s).model().hfConfigPath()),
                ModelOptions.defaults())) {
            for (PlanCandidate c : plans) {
                Settings at = PlanCommand.apply(s, c);
                ParallelPlan p = ParallelPlan.from(at);
                assertEquals(c.replicate(), p.replicateSize(), c.label());
                BenchParallel.Measured m = BenchParallel.measure(at.with("train.global_batch_size",
                        c.dataParallelSize()), new BenchParallel.Layout(c.world(), c.sp(), c.ep()), 1, 1, 1);
                // the reference: ParamStore.stateBytes of every rank's real stores after an optimizer step (max)
                assertEquals(m.stateBytes(), StateMemory.of(model.units(), c).stateBytes(), c.label());
            }
        }
    }

    @Test
    void applyWritesEveryKeyOfTheChoice() {
        Settings s = Settings.fromTree(null, List.of("model.config_path=conf/models/tiny-qwen3.json",
                "train.parallel_plan=auto", "train.plan_memory_gb=2", "train.world_size=8",
                "train.global_batch_size=16"), "test");
        Settings applied = PlanCommand.apply(s, new PlanCandidate(2, 1, 2, 2, RecomputePolicy.BLOCK, 2));
        JobConfig job = JobConfig.from(applied);
        ParallelPlan p = ParallelPlan.from(applied);
        assertEquals(List.of(8, 2, 1, 2, 2), List.of(p.worldSize(), p.replicateSize(), p.shardSize(), p.spSize(),
                p.epSize()));
        assertEquals(2, job.train().microBatchSize());
        assertTrue(job.train().enableGradientCheckpointing());
        assertFalse(job.train().autoParallelPlan());
    }

    @Test
    void autoAtLaunchPlansMeasuresAndAppliesItsChoiceAndLogsIt() throws Exception {
        Settings manual = moe();
        assertTrue(PlanCommand.resolveAuto(manual, System.out) == manual, "a manual plan is left as written");
        Settings auto = manual.with("train.parallel_plan", "auto").with("train.plan_memory_gb", 1.0)
                .with("train.world_size", 2).with("train.global_batch_size", 2);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Settings resolved = PlanCommand.resolveAuto(auto, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String log = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("CHOSEN") && log.contains("train.parallel_plan auto: running "), log);
        ParallelPlan p = ParallelPlan.from(resolved);
        assertEquals(2, p.worldSize());
        String chosen = log.lines().filter(l -> l.startsWith("train.parallel_plan auto: running ")).findFirst()
                .orElseThrow().substring("train.parallel_plan auto: running ".length());
        assertEquals(chosen, "r" + p.replicateSize() + " s" + p.shardSize() + " sp" + p.spSize() + " ep" + p.epSize()
                + " " + (JobConfig.from(resolved).train().enableGradientCheckpointing() ? "block" : "none") + " mb"
                + JobConfig.from(resolved).train().microBatchSize());
        ai.omnispark.trainer.config.ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(
                ai.omnispark.trainer.config.ConfigException.class,
                () -> PlanCommand.resolveAuto(auto.with("train.world_size", 0), System.out));
        assertTrue(e.getMessage().contains("needs train.world_size"), e.getMessage());
    }

    private record Run(int code, String text) {}

    private static Run main(String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int code = Main.run(argv, print, print);
        return new Run(code, bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void planThroughMainOnAProfileRanksChoosesAndRefusesWithReasons() {
        String config = CONF.resolve("examples/tiny-moe.yaml").toString();
        String hw = CONF.resolve("hardware/h200-node.json").toString();
        Run r = main("plan", config, "--world", "8", "--hardware", hw, "--set", MOE_MODEL);
        assertEquals(0, r.code(), r.text());
        assertTrue(r.text().contains("CHOSEN"), r.text());
        assertTrue(r.text().contains("plan: chosen "), r.text());
        // 4 heads: sp 8 is refused in the family's words
        assertTrue(r.text().contains("num_attention_heads (4) is not divisible by the ulysses size (8)"), r.text());
        assertTrue(main("help").text().contains("  plan CONFIG --world N"), "help lists plan");
    }

    @Test
    void repeatedMeasurementsKeepTheRunOfMedianStepTime() {
        BenchParallel.Layout layout = new BenchParallel.Layout(4, 1, 1);
        List<BenchParallel.Measured> runs = List.of(run(layout, 580.0, 3), run(layout, 413.8, 1), run(layout, 457.2, 2));
        BenchParallel.Measured median = BenchParallel.medianRun(runs);
        assertEquals(457.2, median.stepMs());
        assertEquals(2, median.activationBytes(), "the whole run is kept, not a mix of runs");
        assertEquals(413.8, BenchParallel.medianRun(List.of(runs.get(0), runs.get(1))).stepMs(), "even: the lower");
        Run bad = main("plan", CONF.resolve("examples/tiny-moe.yaml").toString(), "--world", "2", "--memory-gb", "1",
                "--repeats", "0", "--set", MOE_MODEL);
        assertEquals(2, bad.code());
        assertTrue(bad.text().contains("--repeats"), bad.text());
    }

    private static BenchParallel.Measured run(BenchParallel.Layout layout, double stepMs, long activations) {
        return new BenchParallel.Measured(layout, 32, 1, stepMs, activations, 0, 0, 0, 0);
    }

    @Test
    void aPlanThatCannotFitExitsThreeNamingTheMemoryThatWould() {
        Run r = main("plan", CONF.resolve("examples/tiny-moe.yaml").toString(), "--world", "2", "--hardware",
                CONF.resolve("hardware/h100-sxm-node.json").toString(), "--memory-gb", "0.0001", "--set", MOE_MODEL);
        assertEquals(PlanCommand.NO_FIT, r.code(), r.text());
        assertTrue(r.text().contains("plan: no parallel plan fits in 0.10M per rank; the smallest, "), r.text());
        // the tiny MoE's smallest plan needs some 14 MiB: rounded up to the next 0.01 GiB
        assertTrue(r.text().contains("give --memory-gb 0.02 or more"), r.text());
        Run bad = main("plan", CONF.resolve("examples/tiny-moe.yaml").toString(), "--world", "2", "--set", MOE_MODEL);
        assertEquals(2, bad.code());
        assertTrue(bad.text().contains("plan needs --memory-gb"), bad.text());
    }
}
