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
 * (rows × sp × ep × recompute policy) the planned world's ranks, world / (sp × ep) groups of sp × ep
 * side by side and all data-parallel ranks sharded, run warm-up steps and measured ones
 * ({@link BenchParallel#measureAsConfigured}: median step time, and the activation bytes its forward
 * keeps, read by {@link ActivationProbe}; of {@code repeats} runs, the one of median step time); and
 * per replicate size the replicas' factor, how much slower the dp-only layout runs split into that many
 * replicas than all sharded. Every run goes through a {@link Measurement}: {@code plan} takes each in a
 * fresh JVM.
 *
 * <p>The whole world, not one group of sp × ep ranks scaled by how much slower dp-only ranks run at the
 * world than at 2: ranks here are threads sharing a few cores, and how much of a core a rank leaves idle
 * (at its exchanges and barriers) depends on the layout. The tiny MoE's ep-2 group ran 181 ms alone on
 * 2 ranks, faster than the dp-only 225 ms, but 298 ms as 2 groups on 4 ranks, slower than dp-only's
 * 286 ms; scaled by the dp-only share (x1.27) it was predicted 229 ms, 23 % fast.
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
    private final Map<String, Double> replicaFactors = new HashMap<>();

    /**
     * @param base the config; its parallel keys are replaced per measurement
     * @param threadsPerRank intra-op threads of each measured rank: what each rank of the planned world
     *     gets (this machine's cores shared out; more would oversubscribe the cores, and spinning OpenMP
     *     threads distort the reading)
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
        BenchParallel.Measured m = run(shape(microBatch, policy), new BenchParallel.Layout(plannedWorld, sp, ep));
        log.println(String.format(Locale.ROOT, "calibrate: micro-batch %d, sp %d, ep %d, recompute %s on %d ranks: "
                + "step %.1f ms, activations %d bytes per rank", microBatch, sp, ep, policy.label(), plannedWorld,
                m.stepMs(), m.activationBytes()));
        return new Cost(m.activationBytes(), m.stepMs(), plannedWorld);
    }

    /**
     * The dp-only step at the given micro-batch without recompute, split into {@code replicate}
     * replicas of world / replicate shards, over the same all sharded (measured once per replicate size
     * and micro-batch; 1 for one replica). Replicas move other traffic: replicate 4 all-reduces every
     * gradient where shard 4 gathers weights and reduce-scatters gradients (the medium LLM: x1.25).
     */
    double replicaFactor(int replicate, int microBatch) {
        if (replicate == 1) {
            return 1;
        }
        return replicaFactors.computeIfAbsent(replicate + " " + microBatch, k -> measureReplicas(replicate, microBatch));
    }

    private double measureReplicas(int replicate, int microBatch) {
        Cost sharded = cost(microBatch, 1, 1, RecomputePolicy.NONE);
        BenchParallel.Measured replicated = run(shape(microBatch, RecomputePolicy.NONE)
                .with("train.data_parallel_replicate_size", replicate), new BenchParallel.Layout(plannedWorld, 1, 1));
        double factor = replicated.stepMs() / sharded.stepMs();
        log.println(String.format(Locale.ROOT, "calibrate: micro-batch %d, %d replicas of %d on %d ranks: step %.1f ms, "
                + "x%.2f of all sharded", microBatch, replicate, plannedWorld / replicate, plannedWorld,
                replicated.stepMs(), factor));
        return factor;
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
