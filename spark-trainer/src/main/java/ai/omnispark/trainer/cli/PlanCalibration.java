package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.plan.RecomputePolicy;
import ai.omnispark.trainer.plan.ShapeCosts;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The planner's measurements on this machine, each taken once and cached: per micro-batch shape
 * (rows × sp × ep × recompute policy) sp × ep ranks (one data-parallel group) run warm-up steps and
 * measured ones ({@link BenchParallel#measure}: median step time, and the activation bytes its
 * forward keeps, read by {@link ActivationProbe}; of {@code repeats} runs, the one of median step
 * time); and the host share, how much slower one rank of {@code world} data-parallel ranks runs than
 * one of the {@link #anchorRanks} on the same shape (ranks here are threads sharing this machine's cores).
 * Every run goes through a {@link Measurement}: {@code plan} takes each in a fresh JVM.
 */
final class PlanCalibration implements ShapeCosts {
    private final Settings base;
    private final int steps;
    private final int warmup;
    private final int repeats;
    private final int threadsPerRank;
    private final int plannedWorld;
    private final PrintStream log;
    private final int[] latent;
    private final Measurement measurement;
    private final Map<String, Cost> costs = new HashMap<>();
    private final Map<String, Double> shares = new HashMap<>();

    /**
     * @param base the config; its parallel keys are replaced per measurement
     * @param threadsPerRank intra-op threads of the measured rank: what each rank of the planned world
     *     gets (this machine's cores shared out), so one rank alone computes as a rank of the plan does
     *     and only the sharing of the cores is left to the host share (more threads than a rank gets
     *     would also oversubscribe the cores later, and spinning OpenMP threads distort the reading)
     * @param latent (C, F, H, W) of the synthetic latent rows a latent family (wan) trains on; null: the config's data
     * @param measurement where each run happens: its own JVM for {@code plan} ({@link ForkedMeasurement}), so
     *     that no run inherits the allocator and JIT state an earlier shape left
     */
    PlanCalibration(Settings base, int plannedWorld, int steps, int warmup, int repeats, int threadsPerRank,
            int[] latent, Measurement measurement, PrintStream log) {
        this.measurement = measurement;
        this.repeats = repeats;
        this.latent = latent;
        this.plannedWorld = plannedWorld;
        this.base = base.with("train.parallel_plan", "manual");
        this.threadsPerRank = threadsPerRank;
        this.steps = steps;
        this.warmup = warmup;
        this.log = log;
    }

    @Override
    public Cost cost(int microBatch, int sp, int ep, RecomputePolicy policy) {
        String key = microBatch + " sp" + sp + " ep" + ep + " " + policy.label();
        Cost known = costs.get(key);
        if (known != null) {
            return known;
        }
        Cost c = measure(microBatch, sp, ep, policy);
        costs.put(key, c);
        return c;
    }

    private Cost measure(int microBatch, int sp, int ep, RecomputePolicy policy) {
        // A plan of several ranks is calibrated on several: one rank alone keeps less than any rank
        // of a multi-rank layout (the medium LLM under block recompute: 48 MB alone, 135 MB per rank
        // at 4 ranks sharded or replicated alike), so sp = ep = 1 runs on 2 data-parallel ranks.
        int ranks = sp * ep == 1 ? anchorRanks() : sp * ep;
        BenchParallel.Measured m = run(shape(microBatch, policy), new BenchParallel.Layout(ranks, sp, ep));
        log.println(String.format(Locale.ROOT, "calibrate: micro-batch %d, sp %d, ep %d, recompute %s on %d ranks: "
                + "step %.1f ms, activations %d bytes per rank", microBatch, sp, ep, policy.label(), ranks,
                m.stepMs(), m.activationBytes()));
        return new Cost(m.activationBytes(), m.stepMs(), ranks);
    }

    /**
     * One rank's step time among {@code world} data-parallel ranks, split into {@code replicate}
     * replicas of {@code world / replicate} shards, over its time among the {@link #anchorRanks} of the
     * sp = ep = 1 calibration, at the given micro-batch without recompute (measured once per replicate
     * size and micro-batch).
     */
    double hostShare(int world, int replicate, int microBatch) {
        if (world <= anchorRanks()) {
            return 1;
        }
        return shares.computeIfAbsent(replicate + " " + microBatch, k -> measureHostShare(world, replicate, microBatch));
    }

    private double measureHostShare(int world, int replicate, int microBatch) {
        Cost anchor = cost(microBatch, 1, 1, RecomputePolicy.NONE);
        BenchParallel.Measured shared = run(shape(microBatch, RecomputePolicy.NONE)
                .with("train.data_parallel_replicate_size", replicate), new BenchParallel.Layout(world, 1, 1));
        double share = shared.stepMs() / anchor.stepMs();
        log.println(String.format(Locale.ROOT, "calibrate: %d data-parallel ranks on this host, %d replica%s of %d: "
                + "step %.1f ms, x%.2f of %d ranks", world, replicate, replicate == 1 ? "" : "s", world / replicate,
                shared.stepMs(), share, anchorRanks()));
        return share;
    }

    /** The ranks the sp = ep = 1 shapes are measured on: 2 when the plan has several, else 1. */
    int anchorRanks() {
        return plannedWorld > 1 ? 2 : 1;
    }

    private Settings shape(int microBatch, RecomputePolicy policy) {
        return base.with("train.micro_batch_size", microBatch)
                .with("train.enable_gradient_checkpointing", policy.gradientCheckpointing())
                .with("train.data_parallel_replicate_size", 1).with("train.data_parallel_shard_size", 0);
    }

    private BenchParallel.Measured run(Settings s, BenchParallel.Layout layout) {
        try {
            List<BenchParallel.Measured> runs = new ArrayList<>();
            for (int r = 0; r < repeats; r++) {
                runs.add(measurement.take(BenchParallel.at(s, layout), steps, warmup, threadsPerRank, latent));
            }
            return BenchParallel.medianRun(runs);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("calibration run failed: " + e.getMessage(), e);
        }
    }
}
