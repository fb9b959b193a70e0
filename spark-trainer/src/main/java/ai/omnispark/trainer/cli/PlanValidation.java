package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.plan.Estimate;
import ai.omnispark.trainer.plan.Planner;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code plan --validate K}: runs the K best-ranked plans that fit, as configured (their global
 * batch, micro-batches and recompute; ranks as threads of this JVM, {@link BenchParallel#measureAsConfigured}),
 * and prints per plan the predicted and measured state bytes, activation bytes (with the gathered
 * weights the graph keeps, which the probe counts among them) and step time, each with its error;
 * then which plan measured fastest and how far the chosen one is from it. With {@code repeats} R the K
 * plans run in R interleaved rounds (plan 1, 2, ..., K, then again), so that a slow spell of the machine
 * falls on every plan alike, and each plan's run of median step time is compared. Each run goes through
 * the calibration's {@link Measurement}, so predicted and measured are taken alike.
 */
final class PlanValidation {
    private PlanValidation() {}

    static void run(Settings settings, Planner.Ranking ranking, int k, int steps, int warmup, int repeats, int[] latent,
            Measurement measurement, PrintStream out) throws Exception {
        List<Planner.Row> top = ranking.rows().stream().filter(Planner.Row::fits).limit(k).toList();
        List<List<BenchParallel.Measured>> runs = new ArrayList<>();
        top.forEach(row -> runs.add(new ArrayList<>()));
        for (int round = 0; round < repeats; round++) {
            for (int i = 0; i < top.size(); i++) {
                Planner.Row row = top.get(i);
                runs.get(i).add(measurement.take(PlanCommand.apply(settings, row.candidate())
                        .with("train.parallel_plan", "manual"), steps, warmup,
                        PlanCommand.threadsPerRank(row.candidate().world()), latent));
            }
        }
        List<Double> measuredMs = new ArrayList<>();
        for (int i = 0; i < top.size(); i++) {
            Planner.Row row = top.get(i);
            Estimate e = row.estimate();
            BenchParallel.Measured m = BenchParallel.medianRun(runs.get(i));
            measuredMs.add(m.stepMs());
            long predictedActivations = e.activationBytes() + e.gatherBytes();
            out.println(String.format(Locale.ROOT, "validate %-24s state %d vs %d B (%+.1f%%), activations %d vs %d B "
                    + "(%+.1f%%), step %.1f vs %.1f ms (%+.1f%%)  [predicted vs measured]%s", row.candidate().label(),
                    e.state().stateBytes(), m.stateBytes(), error(e.state().stateBytes(), m.stateBytes()),
                    predictedActivations, m.activationBytes(), error(predictedActivations, m.activationBytes()),
                    e.stepMs(), m.stepMs(), error(e.stepMs(), m.stepMs()), repeats == 1 ? ""
                            : "; runs " + runs.get(i).stream().map(r -> String.format(Locale.ROOT, "%.1f", r.stepMs()))
                                    .toList() + " ms, median kept"));
        }
        if (!measuredMs.isEmpty()) {
            int best = 0;
            for (int i = 1; i < measuredMs.size(); i++) {
                best = measuredMs.get(i) < measuredMs.get(best) ? i : best;
            }
            out.println(String.format(Locale.ROOT, "validate: measured fastest %s (%.1f ms); the chosen %s measured "
                    + "%.1f ms, %+.1f%% from it", top.get(best).candidate().label(), measuredMs.get(best),
                    top.get(0).candidate().label(), measuredMs.get(0), error(measuredMs.get(0), measuredMs.get(best))));
        }
    }

    /** (predicted - measured) / measured, in percent. */
    static double error(double predicted, double measured) {
        return measured == 0 ? Double.NaN : 100 * (predicted - measured) / measured;
    }
}
