package ai.omnispark.trainer.cli;

import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code bench parallel --config CONFIG [--sp 1,2,4] [--ep 1,2,4] [--world N] [--steps N] [--warmup N]
 * [--threads T] [--memory-budget-mb M] [--seq-len L] [--latent C,F,H,W]}: per Ulysses size (ep 1) and per expert-parallel
 * size (sp 1), a few training steps with the ranks as threads of this JVM (in-process transport),
 * each printing one JSON line: world, sp, ep, the median step time after the warm-up, the bytes of
 * activations each rank keeps from a micro-batch's forward to its backward, its state bytes
 * (weights, gradients, optimizer moments) and of those the expert units' (parameters whose name
 * holds ".experts.", the HF naming of every MoE family here). A summary line follows: activation
 * bytes against sp 1 ({@code activation_ratio_sp4_vs_sp1} when both ran), expert state against ep 1,
 * and with a budget which layouts fit it.
 *
 * <p>{@code --latent} measures a latent family (wan, text-to-video) on synthetic latent rows of that
 * shape ({@link BenchLatentRows}); seq_len is then the patch tokens of a row.
 *
 * <p>World is sp (or ep) unless {@code --world} gives it; the global batch is the config's
 * micro-batch on every data-parallel rank (world / sp of them: Ulysses ranks share their rows, expert
 * ranks have their own), so every rank holds the same micro-batch rows at every size.
 *
 * <p>Activation bytes are measured, not computed from shapes: {@link ActivationProbe} reads the
 * process's live C-heap bytes (glibc mallinfo2, where libtorch allocates tensors) with every rank
 * paused at a barrier just before the first segment's forward and just after the last one's, and
 * divides the difference by the ranks (median over the measured micro-batches). It counts
 * everything the forward leaves for the backward: saved activations, the kept segment outputs and
 * the gathered weights the graph holds (constant across sp; small against long-sequence
 * activations). A layout fits a budget when state bytes + activation bytes per rank are at most
 * {@code --memory-budget-mb} MiB.
 */
final class BenchParallel {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What marks an expert parameter: HF's "mlp.experts.{j}." (Qwen-MoE) and "block_sparse_moe.experts." alike. */
    static final String EXPERT_MARK = ".experts.";

    private BenchParallel() {}

    /** One layout: world = replicate x shard x sp x ep. */
    record Layout(int world, int sp, int ep) implements java.io.Serializable {}

    /** What one layout measured, per rank. */
    /**
     * @param stateBytes the largest rank's weights, gradients and optimizer state (what must fit)
     * @param expertStateBytes the expert part of the state, mean over ranks (under FSDP a rank's share
     *     depends on where the shard edges fall; over ep ranks each holds its own experts)
     * @param expertStateBytesMax the expert part of the largest rank's
     * @param fullWeightBytes every unit's fp32 weights whole: what FSDP may hold gathered inside the
     *     measured window on several ranks (one rank's weights live before it)
     */
    record Measured(Layout layout, int seqLen, int microBatch, double stepMs, long activationBytes,
            long stateBytes, long expertStateBytes, long expertStateBytesMax, long fullWeightBytes)
            implements java.io.Serializable {
        long rankBytes() {
            return stateBytes + activationBytes;
        }
    }

    /** Of several runs of one layout, the one of median step time (the lower middle of an even count). */
    static Measured medianRun(List<Measured> runs) {
        if (runs.isEmpty()) {
            throw new IllegalArgumentException("no run to take the median of");
        }
        List<Measured> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(Measured::stepMs));
        return sorted.get((sorted.size() - 1) / 2);
    }

    private record RankResult(double stepMs, long stateBytes, long expertStateBytes, long fullWeightBytes) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("config", "sp", "ep", "world", "steps", "warmup", "threads",
                "memory-budget-mb", "seq-len", "latent"));
        int[] latent = args.options.containsKey("latent") ? BenchLatentRows.shape(args.option("latent", null)) : null;
        Path configFile = Path.of(args.required("config"));
        List<String> sets = new ArrayList<>(args.sets);
        if (args.options.containsKey("seq-len")) {
            sets.add("data.max_seq_len=" + args.positiveInt("seq-len", null));
        }
        Settings base = Settings.load(configFile, sets);
        boolean epGiven = args.options.containsKey("ep");
        int[] sps = args.options.containsKey("sp") || !epGiven ? sizes(args.option("sp", "1,2,4"), "sp") : new int[0];
        int[] eps = epGiven ? sizes(args.option("ep", "1"), "ep") : new int[0];
        Integer world = args.options.containsKey("world") ? args.positiveInt("world", null) : null;
        int steps = args.positiveInt("steps", "3");
        int warmup = nonNegative(args.option("warmup", "1"), "warmup");
        int threads = args.options.containsKey("threads") ? args.positiveInt("threads", null) : 0;
        long budget = args.options.containsKey("memory-budget-mb")
                ? (long) args.positiveInt("memory-budget-mb", null) << 20 : -1;
        List<Measured> bySp = new ArrayList<>();
        for (int sp : sps) {
            Measured m = measure(base, layout(world, sp, 1), steps, warmup, threads, latent);
            bySp.add(m);
            out.println(line(m, budget));
        }
        List<Measured> byEp = new ArrayList<>();
        for (int ep : eps) {
            Measured m = measure(base, layout(world, 1, ep), steps, warmup, threads, latent);
            byEp.add(m);
            out.println(line(m, budget));
        }
        out.println(summary(bySp, byEp, budget));
        return 0;
    }

    static Layout layout(Integer world, int sp, int ep) {
        int w = world == null ? sp * ep : world;
        if (w % (sp * ep) != 0) {
            throw new ConfigException("--world " + w + " is not divisible by sp " + sp + " x ep " + ep);
        }
        return new Layout(w, sp, ep);
    }

    /**
     * {@code base} on {@code layout}: the flat parallel keys (any train.accelerator map dropped, so the
     * two spellings cannot disagree) and the config's micro-batch once per data-parallel rank.
     */
    static Settings at(Settings base, Layout layout) {
        int micro = JobConfig.from(base).train().microBatchSize();
        int dataRanks = layout.world() / layout.sp();
        return base.with("train.accelerator", "").with("train.world_size", layout.world())
                .with("train.ulysses_parallel_size", layout.sp()).with("train.expert_parallel_size", layout.ep())
                .with("train.global_batch_size", micro * dataRanks);
    }

    static Measured measure(Settings base, Layout layout, int steps, int warmup, int threads) throws Exception {
        return measure(base, layout, steps, warmup, threads, null);
    }

    /** @param latent (C, F, H, W) of synthetic latent rows for a latent family (wan); null: the config's token data */
    static Measured measure(Settings base, Layout layout, int steps, int warmup, int threads, int[] latent)
            throws Exception {
        return measureAsConfigured(at(base, layout), steps, warmup, threads, latent);
    }

    /**
     * As {@link #measure}, on {@code s} as it is: its own parallel keys and global batch (a step may
     * then run several micro-batches; the activation bytes are the median over them all).
     */
    static Measured measureAsConfigured(Settings s, int steps, int warmup, int threads) throws Exception {
        return measureAsConfigured(s, steps, warmup, threads, null);
    }

    static Measured measureAsConfigured(Settings s, int steps, int warmup, int threads, int[] latent)
            throws Exception {
        ParallelPlan plan = ParallelPlan.from(s);
        Layout layout = new Layout(plan.worldSize(), plan.spSize(), plan.epSize());
        java.util.concurrent.atomic.AtomicInteger latentTokens = new java.util.concurrent.atomic.AtomicInteger();
        java.util.function.Function<ai.omnispark.models.api.Model, List<ai.omnispark.models.api.Sample>> rowsOf =
                latent == null ? null : BenchLatentRows.of(latent, JobConfig.from(s).train().globalBatchSize(),
                        latentTokens);
        ActivationProbe probe = new ActivationProbe(plan.worldSize(), BenchRanks.TIMEOUT);
        List<RankResult> ranks;
        try {
            ranks = BenchRanks.run(s, threads, plan.fullShard(), probe::wrap, rowsOf, (ctx, assembly, trainer, dp) -> {
                double[] times = new double[steps];
                try {
                    for (int i = 0; i < warmup + steps; i++) {
                        double ms = trainer.trainStep().stepMs();
                        if (i >= warmup) {
                            times[i - warmup] = ms;
                        } else if (i == warmup - 1 && ctx.rank() == 0) {
                            // Safe from rank 0 alone: no rank can be measuring the next micro-batch
                            // before rank 0 reaches its first barrier.
                            probe.reset();
                        }
                    }
                } catch (RuntimeException | Error e) {
                    probe.abort();
                    throw e;
                }
                Arrays.sort(times);
                ParamStore params = assembly.params();
                long weights = 0;
                for (UnitLayout unit : params.layouts()) {
                    weights += unit.numel() * Float.BYTES;
                }
                return new RankResult(times[steps / 2], params.stateBytes(trainer.optimizer()),
                        expertStateBytes(params, trainer.optimizer()), weights);
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            throw new ConfigException("bench parallel at world " + layout.world() + ", sp " + layout.sp() + ", ep "
                    + layout.ep() + ": " + e.getMessage());
        }
        long[] kept = probe.perRankBytes();
        if (kept.length == 0) {
            throw new IllegalStateException("no micro-batch was measured");
        }
        Arrays.sort(kept);
        RankResult r0 = ranks.get(0);
        long expertSum = 0;
        long expertMax = 0;
        long state = 0;
        for (RankResult r : ranks) {
            expertSum += r.expertStateBytes();
            expertMax = Math.max(expertMax, r.expertStateBytes());
            state = Math.max(state, r.stateBytes());
        }
        JobConfig job = JobConfig.from(s);
        int seqLen = latent == null ? job.data().maxSeqLen() : latentTokens.get();
        return new Measured(layout, seqLen, job.train().microBatchSize(), r0.stepMs(),
                kept[kept.length / 2], state, expertSum / ranks.size(), expertMax, r0.fullWeightBytes());
    }

    /**
     * Bytes of the expert parameters' weights, gradients and optimizer state this rank holds: per
     * unit it holds (under expert parallelism a rank holds its own experts' units only), the part of
     * its owned slice that expert parameters cover, 4 bytes each for the fp32
     * weight and gradient and that fraction of the unit's optimizer state (counted from its tensors).
     */
    static long expertStateBytes(ParamStore params, Optimizer optimizer) {
        long bytes = 0;
        for (UnitLayout unit : params.layouts()) {
            if (!params.holds(unit.name())) {
                continue;
            }
            OwnedSlice owned = params.owned(unit.name());
            long overlap = 0;
            for (ParamSpec p : unit.params()) {
                if (p.name().contains(EXPERT_MARK)) {
                    long from = unit.offset(p.name());
                    long to = from + p.numel();
                    overlap += Math.max(0, Math.min(to, owned.end()) - Math.max(from, owned.begin()));
                }
            }
            if (overlap == 0) {
                continue;
            }
            boolean trainable = !unit.frozen();
            bytes += overlap * Float.BYTES * (trainable ? 2 : 1);
            if (trainable && owned.localLength() > 0) {
                bytes += optimizer.stateBytes(unit.name()) * overlap / owned.localLength();
            }
        }
        return bytes;
    }

    private static ObjectNode line(Measured m, long budget) {
        ObjectNode o = JSON.createObjectNode();
        o.put("world", m.layout().world());
        o.put("sp", m.layout().sp());
        o.put("ep", m.layout().ep());
        o.put("seq_len", m.seqLen());
        o.put("micro_batch_size", m.microBatch());
        o.put("step_ms", m.stepMs());
        o.put("activation_bytes_per_rank", m.activationBytes());
        o.put("state_bytes_per_rank", m.stateBytes());
        o.put("expert_state_bytes_per_rank", m.expertStateBytes());
        o.put("expert_state_bytes_max_rank", m.expertStateBytesMax());
        o.put("full_weight_bytes", m.fullWeightBytes());
        if (budget > 0) {
            o.put("rank_bytes", m.rankBytes());
            o.put("fits_budget", m.rankBytes() <= budget);
        }
        return o;
    }

    static ObjectNode summary(List<Measured> bySp, List<Measured> byEp, long budget) {
        ObjectNode o = JSON.createObjectNode();
        Measured sp1 = find(bySp, true, 1);
        if (sp1 != null) {
            ObjectNode ratios = o.putObject("activation_ratio_vs_sp1");
            for (Measured m : bySp) {
                double ratio = (double) m.activationBytes() / sp1.activationBytes();
                ratios.put(Integer.toString(m.layout().sp()), ratio);
                if (m.layout().sp() == 4) {
                    o.put("activation_ratio_sp4_vs_sp1", ratio);
                }
            }
        }
        Measured ep1 = find(byEp, false, 1);
        if (ep1 != null && ep1.expertStateBytes() > 0) {
            ObjectNode ratios = o.putObject("expert_state_ratio_vs_ep1");
            for (Measured m : byEp) {
                ratios.put(Integer.toString(m.layout().ep()), (double) m.expertStateBytes() / ep1.expertStateBytes());
            }
        }
        if (budget > 0) {
            o.put("memory_budget_bytes", budget);
            if (sp1 != null) {
                o.put("sp1_exceeds_budget", sp1.rankBytes() > budget);
            }
            var fits = o.putArray("sp_sizes_within_budget");
            bySp.stream().filter(m -> m.rankBytes() <= budget).forEach(m -> fits.add(m.layout().sp()));
        }
        return o;
    }

    private static Measured find(List<Measured> all, boolean bySp, int size) {
        for (Measured m : all) {
            if ((bySp ? m.layout().sp() : m.layout().ep()) == size) {
                return m;
            }
        }
        return null;
    }

    private static int[] sizes(String list, String name) {
        try {
            int[] v = Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
            for (int x : v) {
                if (x < 1) {
                    throw new ConfigException("--" + name + " sizes must be >= 1, got " + x);
                }
            }
            if (v.length == 0) {
                throw new ConfigException("--" + name + " needs at least one size");
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " takes comma-separated sizes like 1,2,4, got '" + list + "'");
        }
    }

    private static int nonNegative(String text, String name) {
        try {
            int v = Integer.parseInt(text.trim());
            if (v < 0) {
                throw new ConfigException("--" + name + " must be >= 0, got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " must be an integer, got '" + text + "'");
        }
    }
}
