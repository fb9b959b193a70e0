package ai.omnispark.trainer.cli;

import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.recompute.RoiSelection;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench recompute --config CONFIG [--budget-mb M] [--steps N] [--warmup N] [--repeats R]
 * [--threads T] [--seq-len L] [--latent C,F,H,W]}: one rank trained under train.recompute none, block and roi (in turn,
 * R times, so that the machine's drift hits all three alike); per policy the median step time, the
 * median activation peak (metrics.jsonl's activation_peak_bytes) and the recompute ratio, as JSON
 * lines, then a summary: roi's extra step time over none against block's. Without --budget-mb the
 * budget is block's measured activation peak, a budget block meets (docs/recompute.md). With
 * --latent (a DiT config) the rows are train.global_batch_size synthetic latent rows of that shape
 * with 8 text tokens of the model's text_dim, instead of data.train_path's text.
 */
final class BenchRecompute {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> POLICIES = List.of("none", "block", "roi");

    private BenchRecompute() {}

    record Run(double stepMs, double peakBytes, double ratio, String table) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("config", "budget-mb", "steps", "warmup", "repeats", "threads",
                "seq-len", "latent"));
        List<String> sets = new ArrayList<>(args.sets);
        if (args.options.containsKey("seq-len")) {
            sets.add("data.max_seq_len=" + args.positiveInt("seq-len", null));
        }
        Settings base = Settings.load(Path.of(args.required("config")), sets)
                .with("train.world_size", 1).with("train.data_parallel_mode", "none")
                .with("train.enable_gradient_checkpointing", false).with("train.accelerator", "")
                .with("train.ulysses_parallel_size", 1).with("train.expert_parallel_size", 1);
        int steps = args.positiveInt("steps", "3");
        int warmup = args.positiveInt("warmup", "1");
        int repeats = args.positiveInt("repeats", "3");
        int threads = args.options.containsKey("threads") ? args.positiveInt("threads", null) : 0;
        Double budgetMb = args.options.containsKey("budget-mb") ? Double.valueOf(args.option("budget-mb", null)) : null;
        if (budgetMb != null && !(budgetMb > 0)) {
            throw new ConfigException("--budget-mb must be > 0, got " + budgetMb);
        }
        java.util.function.Function<ai.omnispark.models.api.Model, List<Sample>> latentRows =
                args.options.containsKey("latent") ? BenchLatentRows.of(BenchLatentRows.shape(args.option("latent", null)),
                        (int) base.integer("train.global_batch_size"), new java.util.concurrent.atomic.AtomicInteger()) : null;
        Map<String, List<Run>> runs = new LinkedHashMap<>();
        POLICIES.forEach(p -> runs.put(p, new ArrayList<>()));
        for (int r = 0; r < repeats; r++) {
            for (String policy : POLICIES) {
                Settings s = base.with("train.recompute", policy)
                        .with("train.max_steps", warmup + steps);
                if (policy.equals("roi")) {
                    double mb = budgetMb != null ? budgetMb : median(runs.get("block"), Run::peakBytes) / (1 << 20);
                    s = s.with("train.activation_memory_budget_mb", mb);
                }
                Run run = measure(s, steps, warmup, threads, latentRows);
                runs.get(policy).add(run);
                ObjectNode line = JSON.createObjectNode();
                line.put("policy", policy).put("repeat", r).put("step_ms", run.stepMs())
                        .put("activation_peak_bytes", (long) run.peakBytes());
                if (!Double.isNaN(run.ratio())) {
                    line.put("recompute_ratio", run.ratio());
                }
                out.println(line);
                if (r == 0 && run.table() != null) {
                    out.print(run.table());
                }
            }
        }
        out.println(summary(runs, budgetMb));
        return 0;
    }

    private static Run measure(Settings s, int steps, int warmup, int threads,
            java.util.function.Function<ai.omnispark.models.api.Model, List<Sample>> latentRows)
            throws Exception {
        return BenchRanks.run(s, threads, true, p -> p, latentRows, (ctx, assembly, trainer, dp) -> {
            double[] times = new double[steps];
            double[] peaks = new double[steps];
            for (int i = 0; i < warmup + steps; i++) {
                StepResult r = trainer.trainStep();
                if (i >= warmup) {
                    times[i - warmup] = r.stepMs();
                    peaks[i - warmup] = r.metrics().getOrDefault(Trainer.ACTIVATION_PEAK, Double.NaN);
                }
            }
            RoiSelection choice = trainer.recomputeChoice();
            String policy = s.string("train.recompute");
            double ratio = choice != null ? choice.recomputeRatio() : policy.equals("none") ? 0 : Double.NaN;
            return new Run(median(times), median(peaks), ratio, trainer.takeRecomputeReport());
        }).get(0);
    }

    private static ObjectNode summary(Map<String, List<Run>> runs, Double budgetMb) {
        ObjectNode o = JSON.createObjectNode();
        for (String policy : POLICIES) {
            o.put(policy + "_step_ms", median(runs.get(policy), Run::stepMs));
            o.put(policy + "_activation_peak_bytes", (long) median(runs.get(policy), Run::peakBytes));
        }
        double roiRatio = median(runs.get("roi"), Run::ratio);
        // Block recomputes every step of every candidate: its ratio from roi's calibration of the same model.
        o.put("roi_recompute_ratio", roiRatio);
        // Paired: each repeat's extra over the none run just before it, then the median of those, so a
        // slow spell of the machine (a step of 0.4 s moved by up to 0.1 s between repeats of a tiny
        // DiT) falls on both sides of a difference instead of on one policy's median.
        double blockExtra = pairedExtra(runs, "block");
        double roiExtra = pairedExtra(runs, "roi");
        o.put("budget_mb", budgetMb != null ? budgetMb : median(runs.get("block"), Run::peakBytes) / (1 << 20));
        o.put("block_extra_ms", blockExtra).put("roi_extra_ms", roiExtra);
        o.put("roi_extra_at_most_half_of_block", roiExtra <= blockExtra / 2);
        o.put("note", String.format(Locale.ROOT, "medians of %d runs per policy; extras are medians of each "
                + "repeat's step minus that repeat's none step", runs.get("none").size()));
        return o;
    }

    /** The median over repeats of {@code policy}'s step time minus the none step of the same repeat. */
    static double pairedExtra(Map<String, List<Run>> runs, String policy) {
        List<Run> none = runs.get("none");
        List<Run> other = runs.get(policy);
        double[] extra = new double[Math.min(none.size(), other.size())];
        for (int r = 0; r < extra.length; r++) {
            extra[r] = other.get(r).stepMs() - none.get(r).stepMs();
        }
        return median(extra);
    }

    private static double median(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
        return median(runs.stream().mapToDouble(f).toArray());
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
