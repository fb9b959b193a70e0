package ai.omnispark.trainer.cli;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.plan.CostModel;
import ai.omnispark.trainer.plan.HardwareProfile;
import ai.omnispark.trainer.plan.LayoutCheck;
import ai.omnispark.trainer.plan.MeasuredCosts;
import ai.omnispark.trainer.plan.ModelShape;
import ai.omnispark.trainer.plan.PlanCandidate;
import ai.omnispark.trainer.plan.PlanSpace;
import ai.omnispark.trainer.plan.PlanTable;
import ai.omnispark.trainer.plan.Planner;
import ai.omnispark.trainer.plan.ProfileCosts;
import ai.omnispark.trainer.plan.RecomputePolicy;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code plan CONFIG --world N [--memory-gb M] [--hardware FILE] [--micro-batch 1,2,4] [--recompute none,block]
 * [--seq-len L] [--latent C,F,H,W] [--steps N] [--warmup N] [--repeats R] [--validate K] [--in-process]}:
 * the ranked table of parallel plans for the config's model and global batch at N ranks (docs/plan.md).
 * Without --hardware the costs are measured on this machine (each micro-batch shape on the N ranks,
 * plus the replicas' factor per replicate size, {@link PlanCalibration}); with it they come from the profile
 * and the model's FLOPs, and --memory-gb defaults to the profile's device memory. Exit code 0 when a
 * plan fits, 3 when none does (the message names the smallest memory that would). --validate K then
 * runs the K best-ranked plans that fit and prints predicted against measured ({@link PlanValidation}).
 * --latent measures a latent family (wan) on synthetic latent rows of that shape, as {@code bench parallel --latent}.
 * --repeats R runs every calibration and validation measurement R times and keeps the run of median step
 * time: ranks that are threads sharing a few cores differ by tens of percent from one run to the next.
 * Each measurement runs in a JVM of its own ({@link ForkedMeasurement}) unless --in-process is given.
 */
final class PlanCommand {
    /** Exit code when no plan fits the memory. */
    static final int NO_FIT = 3;

    private PlanCommand() {}

    /** What to search and how to cost it. */
    record Request(int world, long memoryBytes, HardwareProfile hardware, List<Integer> microBatches,
            List<RecomputePolicy> policies, int steps, int warmup, int repeats, int[] latent, Measurement measurement) {}

    /** How long one forked measurement may run before it is stopped. */
    static final java.time.Duration MEASUREMENT_TIMEOUT = java.time.Duration.ofMinutes(30);

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("world", "memory-gb", "hardware", "micro-batch", "recompute",
                "seq-len", "latent", "steps", "warmup", "repeats", "validate"), List.of("in-process"));
        if (args.positional.size() != 1) {
            throw new ConfigException("plan takes one CONFIG file, got " + args.positional);
        }
        List<String> sets = new ArrayList<>(args.sets);
        if (args.options.containsKey("seq-len")) {
            sets.add("data.max_seq_len=" + args.positiveInt("seq-len", null));
        }
        Settings settings = Settings.load(Path.of(args.positional.get(0)), sets);
        HardwareProfile hw = args.options.containsKey("hardware")
                ? HardwareProfile.load(Path.of(args.option("hardware", null))) : null;
        long memory;
        if (args.options.containsKey("memory-gb")) {
            memory = gibBytes(args.option("memory-gb", null), "--memory-gb");
        } else if (hw != null) {
            memory = (long) hw.memoryBytes();
        } else {
            throw new ConfigException("plan needs --memory-gb (per-rank memory in GiB) unless --hardware gives it");
        }
        JobConfig job = JobConfig.from(settings);
        Request request = new Request(args.positiveInt("world", null), memory, hw,
                microBatches(args.option("micro-batch", null), job.train().microBatchSize()),
                policies(args.option("recompute", "none,block")), args.positiveInt("steps", "3"),
                warmup(args.option("warmup", "1")), args.positiveInt("repeats", "1"),
                args.options.containsKey("latent") ? BenchLatentRows.shape(args.option("latent", null)) : null,
                args.flag("in-process") ? Measurement.IN_PROCESS : new ForkedMeasurement(MEASUREMENT_TIMEOUT));
        if (hw != null) {
            out.println("hardware: " + hw.name() + " (" + hw.trainDtype() + " peak "
                    + String.format(Locale.ROOT, "%.0f TFLOP/s x mfu %.2f, %d per node, %.0f / %.0f GB/s intra / inter; "
                            + "comm overlap %.2f; sources in the profile)", hw.trainPeakFlops() / 1e12, hw.mfu(),
                            hw.devicesPerNode(), hw.intraNodeBytesPerS() / 1e9, hw.interNodeBytesPerS() / 1e9,
                            hw.commOverlap()));
        }
        Planner.Ranking ranking = plan(settings, request, out);
        PlanTable.print(ranking, out);
        if (args.options.containsKey("validate")) {
            if (hw != null) {
                throw new ConfigException("--validate measures the plans on this machine; it cannot check a --hardware "
                        + "prediction");
            }
            PlanValidation.run(settings, ranking, args.positiveInt("validate", null), request.steps(),
                    request.warmup(), request.repeats(), request.latent(), request.measurement(), out);
        }
        return ranking.chosen() != null ? 0 : NO_FIT;
    }

    /** The ranked plans for {@code settings}' model and batch. */
    static Planner.Ranking plan(Settings settings, Request r, PrintStream log) throws Exception {
        JobConfig job = JobConfig.from(settings);
        int global = job.train().globalBatchSize();
        int seq = job.data().maxSeqLen();
        try (Model model = RankAssembly.model(job.model())) {
            LayoutCheck layouts = new LayoutCheck(model);
            List<PlanSpace.Option> options = PlanSpace.enumerate(r.world(), global, r.microBatches(), r.policies(),
                    layouts::refusal);
            CostModel costs;
            if (r.hardware() != null) {
                ModelShape shape = ModelShape.of(ModelFamilies.readConfig(Path.of(job.model().hfConfigPath())),
                        model.units());
                costs = new ProfileCosts(model.units(), shape, r.hardware(), global, seq);
            } else {
                PlanCalibration calibration = new PlanCalibration(settings, r.world(), r.steps(), r.warmup(),
                        r.repeats(), threadsPerRank(r.world()), r.latent(), r.measurement(), log);
                costs = new MeasuredCosts(model.units(), layouts, calibration, calibration::replicaFactor, global,
                        seq);
            }
            return Planner.rank(options, costs, r.memoryBytes());
        }
    }

    /** Intra-op threads of each rank of {@code world} on this machine, as the benches and local ranks share them. */
    static int threadsPerRank(int world) {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / world);
    }

    /** {@code settings} with the parallel keys, micro-batch and recompute of {@code c} (and the plan now manual). */
    static Settings apply(Settings settings, PlanCandidate c) {
        return settings.with("train.parallel_plan", "manual").with("train.accelerator", "")
                .with("train.data_parallel_mode", "fsdp").with("train.world_size", c.world())
                .with("train.data_parallel_replicate_size", c.replicate())
                .with("train.data_parallel_shard_size", c.shard()).with("train.ulysses_parallel_size", c.sp())
                .with("train.expert_parallel_size", c.ep()).with("train.micro_batch_size", c.microBatch())
                .with("train.enable_gradient_checkpointing", c.recompute().gradientCheckpointing());
    }

    /**
     * {@code train.parallel_plan: auto} at launch: the plan measured on this machine at
     * train.world_size ranks within train.plan_memory_gb, its table logged to {@code log}; the
     * settings come back with the choice applied, unchanged when the plan is manual.
     */
    static Settings resolveAuto(Settings settings, PrintStream log) throws Exception {
        JobConfig job = JobConfig.from(settings);
        if (!job.train().autoParallelPlan()) {
            return settings;
        }
        int world = job.train().worldSize();
        if (world < 1) {
            throw new ConfigException("train.parallel_plan auto needs train.world_size (the ranks to plan for)");
        }
        Request r = new Request(world, (long) (job.train().planMemoryGb() * (1L << 30)), null,
                microBatches(null, job.train().microBatchSize()), List.of(RecomputePolicy.values()), 1, 1, 1, null,
                // in this JVM: at launch it may be a notebook's or spark-submit's, whose classes a fresh
                // java on java.class.path would not find
                Measurement.IN_PROCESS);
        log.println("train.parallel_plan auto: planning " + world + " ranks within "
                + job.train().planMemoryGb() + " GiB per rank");
        Planner.Ranking ranking = plan(settings, r, log);
        PlanTable.print(ranking, log);
        if (ranking.chosen() == null) {
            throw new ConfigException("train.parallel_plan auto: " + ranking.cannotFit());
        }
        PlanCandidate c = ranking.chosen().candidate();
        log.println("train.parallel_plan auto: running " + c.label());
        return apply(settings, c);
    }

    /** The sizes given, or the powers of two up to the config's micro-batch (and it). */
    static List<Integer> microBatches(String list, int configMicro) {
        List<Integer> out = new ArrayList<>();
        if (list == null) {
            for (int m = 1; m < configMicro; m *= 2) {
                out.add(m);
            }
            out.add(configMicro);
            return out;
        }
        for (String w : list.split(",")) {
            try {
                int m = Integer.parseInt(w.trim());
                if (m < 1) {
                    throw new ConfigException("--micro-batch sizes must be >= 1, got " + m);
                }
                out.add(m);
            } catch (NumberFormatException e) {
                throw new ConfigException("--micro-batch takes sizes like 1,2,4, got '" + list + "'");
            }
        }
        return out.stream().distinct().sorted().toList();
    }

    static List<RecomputePolicy> policies(String list) {
        List<RecomputePolicy> out = new ArrayList<>();
        for (String w : list.split(",")) {
            String name = w.trim();
            RecomputePolicy p = Arrays.stream(RecomputePolicy.values()).filter(v -> v.label().equals(name))
                    .findFirst().orElseThrow(() -> new ConfigException("--recompute takes policies from "
                            + Arrays.toString(RecomputePolicy.values()).toLowerCase() + ", got '" + name + "'"));
            out.add(p);
        }
        return out;
    }

    private static int warmup(String text) {
        try {
            int v = Integer.parseInt(text.trim());
            if (v < 0) {
                throw new ConfigException("--warmup must be >= 0, got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ConfigException("--warmup must be an integer, got '" + text + "'");
        }
    }

    private static long gibBytes(String text, String name) {
        double gb;
        try {
            gb = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(name + " must be a number of GiB, got '" + text + "'");
        }
        if (!(gb > 0)) {
            throw new ConfigException(name + " must be > 0, got " + text);
        }
        return (long) (gb * (1L << 30));
    }
}
