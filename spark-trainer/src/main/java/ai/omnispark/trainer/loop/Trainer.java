package ai.omnispark.trainer.loop;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelMetrics;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Regions;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCost;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.engine.StepCalibration;
import ai.omnispark.parallel.engine.SteppedSegment;
import ai.omnispark.parallel.recompute.RecomputeMode;
import ai.omnispark.parallel.recompute.RoiSelection;
import ai.omnispark.parallel.runtime.NativeHeap;
import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.optim.LrSchedule;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.profile.Span;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.RankRandom;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.RowSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The training loop of one rank, plain Java: draws the step's micro-batches, runs forward and
 * backward through the segment engine, clips, and steps the optimizer. The model's objective says
 * what the loss is averaged over (for a token cross-entropy, every labelled token of the global
 * batch), so the result does not depend on how the batch is split.
 */
public final class Trainer {
    private final TrainConfig config;
    private final RankContext rank;
    private final Model model;
    private final Objective objective;
    private final ParamStore params;
    private final Optimizer optimizer;
    private final RowSource rows;
    private SegmentEngine engine;
    /** With train.recompute roi: the plan's segments, recompute candidates stepped, until the first micro-batch calibrates them. */
    private List<Segment> roiSegments;
    private String recomputeReport;
    private RoiSelection recomputeChoice;
    /** The model's collator as the plan cuts it for this rank (under Ulysses: this rank's slice of each row). */
    private final Collator collator;
    private final LrSchedule schedule;
    private final long totalSteps;
    private final DataParallel dataParallel;
    private final long fewestRowsPerEpoch;
    private final long mostRowsPerEpoch;
    private final DataType dtype;
    private final RankRandom random;
    /** What the model's segments record beyond the loss; its fields join each step's result. */
    private final ModelMetrics metrics;
    private long step;

    /**
     * Agrees with the other data-parallel ranks on the rows of an epoch (a collective: every rank
     * constructs its trainer at the same point), so all ranks plan the same steps and schedule.
     *
     * @param dataParallel sums and minima over the data-parallel ranks ({@link DataParallel#single()} on one)
     * @param optimizer steps {@code params}; the trainer uses it, its owner closes it
     */
    public Trainer(TrainConfig config, RankContext rank, Model model, ParamStore params, Optimizer optimizer,
            RowSource rows, DataParallel dataParallel, DataType dtype) {
        this(config, rank, model, params, optimizer, rows, dataParallel, dtype, UnaryOperator.identity());
    }

    /**
     * @param planView sees the family's plan before the engine runs it and may wrap its segments
     *     (bench parallel measures activation memory so); the identity for training
     */
    public Trainer(TrainConfig config, RankContext rank, Model model, ParamStore params, Optimizer optimizer,
            RowSource rows, DataParallel dataParallel, DataType dtype, UnaryOperator<Parallelize.Plan> planView) {
        this.config = config;
        this.rank = rank;
        this.model = model;
        this.objective = model.objective();
        this.metrics = model.metrics();
        this.params = params;
        this.optimizer = optimizer;
        this.rows = rows;
        this.dataParallel = dataParallel;
        this.dtype = dtype;
        // One stream per data-parallel rank (the world rank without sp): the sp ranks of a row draw the
        // same dropout masks for it, each applying its slice.
        this.random = new RankRandom(config.seed(), dataParallel.rank());
        // The family decides which segments run and which recompute, and how batches are cut, given
        // the mesh (data parallelism needs no segment of its own; Ulysses does).
        Parallelize.Plan plan = planView.apply(model.parallelize().apply(model, dataParallel.mesh(), config.recompute()));
        if (config.recomputeMode() == RecomputeMode.ROI) {
            // Every segment block recompute would drop is a candidate, cut into the steps its family
            // declares (whole when it declares none); which steps recompute is chosen on the first
            // micro-batch, once calibrated. Until then they all keep.
            List<Segment> candidates = new ArrayList<>();
            for (int i = 0; i < plan.segments().size(); i++) {
                Segment s = plan.segments().get(i);
                candidates.add(plan.recompute().recompute(i, s) && !(s instanceof SteppedSegment)
                        ? SteppedSegment.whole(s) : s);
            }
            this.roiSegments = List.copyOf(candidates);
            this.engine = new SegmentEngine(roiSegments, model.units(), Recompute.none(), rank.profiler());
        } else {
            this.engine = new SegmentEngine(plan.segments(), model.units(), plan.recompute(), rank.profiler());
        }
        this.engine.trackActivations(NativeHeap.available());
        this.engine.trimAfterForward(config.job().train().trimNativeHeap());
        this.collator = plan.collator(model.collator());
        // The epoch plan may give ranks row counts that differ by one, and a rank with one step more
        // would issue collectives nobody answers: every rank reads the same rows an epoch, the whole
        // steps the fewest rows allow (the tail is dropped, so no step mixes two epochs).
        long own = rows.rowsPerEpoch();
        long fewest = dataParallel.min(own);
        this.fewestRowsPerEpoch = fewest;
        this.mostRowsPerEpoch = -dataParallel.min(-own);
        long rowsPerStep = (long) config.microBatchSize() * config.accumulationSteps();
        long wholeSteps = fewest / rowsPerStep;
        rows.limitRowsPerEpoch(wholeSteps > 0 ? wholeSteps * rowsPerStep : fewest);
        this.totalSteps = totalSteps(config, fewest);
        long warmup = (long) Math.ceil(config.warmupRatio() * totalSteps);
        this.schedule = new LrSchedule(config.lr(), config.lrMin(), warmup, totalSteps, config.decay());
    }

    /** Steps of the run when every data-parallel rank reads {@code rowsPerEpoch} rows an epoch. */
    static long totalSteps(TrainConfig config, long rowsPerEpoch) {
        if (config.maxSteps() > 0) {
            return config.maxSteps();
        }
        long rowsPerStep = (long) config.microBatchSize() * config.accumulationSteps();
        long perEpoch = rowsPerEpoch / rowsPerStep;
        if (perEpoch == 0) {
            throw new IllegalArgumentException("one epoch has " + rowsPerEpoch + " rows per rank, fewer than the "
                    + rowsPerStep + " a step needs (train.global_batch_size / data-parallel size); "
                    + "set train.max_steps or use more data");
        }
        return perEpoch * config.epochs();
    }

    public long totalSteps() {
        return totalSteps;
    }

    public long step() {
        return step;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    public RowSource rows() {
        return rows;
    }

    /** This rank's random stream (dropout masks); a checkpoint saves its state. */
    public RankRandom random() {
        return random;
    }

    /** Runs steps until {@code untilStep} (exclusive) or the end, telling {@code listener} of each. */
    public void run(long untilStep, StepListener listener) {
        long end = Math.min(untilStep, totalSteps);
        while (step < end) {
            listener.onStep(trainStep(), totalSteps);
        }
    }

    /** One optimizer step over the global batch. */
    public StepResult trainStep() {
        try (Span span = rank.profiler().span("step", "train", "step", step + 1)) {
            return runStep();
        }
    }

    private StepResult runStep() {
        long start = System.nanoTime();
        int micro = config.microBatchSize();
        int accumulation = config.accumulationSteps();
        List<Sample> stepRows;
        try (Span span = rank.profiler().span("data wait", "train")) {
            stepRows = rows.next(micro * accumulation);
        }
        double dataWaitMs = (System.nanoTime() - start) / 1e6;
        long localTokens = 0;
        for (Sample r : stepRows) {
            if (!r.has(Sample.DOC_IDS)) {
                // A latent row (a diffusion family's) has no token positions: it counts its latent elements.
                localTokens += r.length();
                continue;
            }
            for (int d : r.ints(Sample.DOC_IDS)) {
                localTokens += d >= 0 ? 1 : 0;
            }
        }
        long globalCount = dataParallel.count(objective.normaliserCount(stepRows));
        if (globalCount == 0) {
            throw new IllegalStateException("step " + step + " has no " + objective.normaliser()
                    + " to average the loss over in the whole global batch");
        }
        metrics.clear();
        long activationPeak = -1;
        Map<String, Double> termSums = new LinkedHashMap<>();
        for (int m = 0; m < accumulation; m++) {
            List<Sample> batchRows = stepRows.subList(m * micro, (m + 1) * micro);
            try (NDManager scope = rank.manager().newSubManager()) {
                Batch batch = collator.collate(scope, batchRows, dtype, random);
                if (roiSegments != null) {
                    chooseRecompute(scope, batch);
                }
                NDList seeds = objective.seeds(scope, globalCount, dtype);
                NDList out = engine.forwardBackward(scope, batch, new NDList(), seeds, params);
                activationPeak = Math.max(activationPeak, engine.keptBytes());
                objective.lossTerms(out).forEach((term, sum) -> termSums.merge(term, sum, Double::sum));
            }
        }
        Map<String, Double> terms = new LinkedHashMap<>();
        double loss = 0;
        for (Map.Entry<String, Double> t : termSums.entrySet()) {
            double term = dataParallel.sum(t.getValue()) / globalCount;
            terms.put(t.getKey(), term);
            loss += term;
        }
        Map<String, Double> modelMetrics = metrics.fields(dataParallel.sum(metrics.sums()), terms);
        if (engine.tracksActivations()) {
            // The most any rank kept from a micro-batch's forward for its backward (docs/recompute.md).
            // Every rank takes part whatever it measured: a rank that read nothing (heap noise) and
            // skipped this collective made the next one mismatch on a 2-rank tiny-t2v run.
            modelMetrics = new LinkedHashMap<>(modelMetrics);
            modelMetrics.put(ACTIVATION_PEAK, (double) -dataParallel.min(-Math.max(0, activationPeak)));
        }
        double gradNorm;
        try (Span span = rank.profiler().span("clip grad norm", "train")) {
            gradNorm = params.clipGradNorm(config.maxGradNorm());
        }
        double lr = schedule.lr(step);
        try (Span span = rank.profiler().span("optimizer step", "train")) {
            params.step(optimizer, lr);
        }
        step++;
        double stepMs = (System.nanoTime() - start) / 1e6;
        long tokens = dataParallel.count(localTokens);
        return new StepResult(step, loss, lr, gradNorm, tokens, stepMs, dataWaitMs, terms, modelMetrics);
    }

    /**
     * ROI recompute's choice, on the first micro-batch: every candidate measured (kept bytes per
     * choice of steps, step times), the figures agreed over the ranks so that every rank recomputes
     * the same steps and issues the same parameter gathers (the largest kept bytes, since the budget
     * holds on every rank; the smallest times, the least disturbed by other threads), the greedy choice
     * for the budget, and the engine rebuilt to run it.
     */
    private void chooseRecompute(NDManager scope, Batch batch) {
        List<SegmentCost> measured;
        try (Span span = rank.profiler().span("recompute calibration", "train")) {
            measured = new StepCalibration(3).measure(engine, scope, batch, new NDList(), params);
        }
        List<SegmentCost> agreed = new ArrayList<>();
        for (SegmentCost c : measured) {
            long[] kept = new long[c.keptBytes().length];
            for (int m = 0; m < kept.length; m++) {
                kept[m] = -dataParallel.min(-c.keptBytes()[m]);
            }
            double[] micros = new double[c.stepMicros().length];
            for (int j = 0; j < micros.length; j++) {
                micros[j] = dataParallel.min(Math.round(c.stepMicros()[j] * 1000)) / 1000.0;
            }
            double forward = dataParallel.min(Math.round(c.forwardMicros() * 1000)) / 1000.0;
            agreed.add(new SegmentCost(c.segment(), c.steps(), micros, kept, forward));
        }
        RoiSelection choice = RoiSelection.select(agreed, config.activationBudgetBytes());
        this.recomputeChoice = choice;
        Regions regions = Regions.of(roiSegments, choice.recomputed(), Recompute.none());
        this.engine = new SegmentEngine(regions.segments(), model.units(), regions.recompute(), rank.profiler());
        this.engine.trackActivations(NativeHeap.available());
        this.engine.trimAfterForward(config.job().train().trimNativeHeap());
        this.roiSegments = null;
        this.recomputeReport = String.format(java.util.Locale.ROOT,
                "recompute roi, budget %.1f MiB per micro-batch (block would recompute %.1f %% of the forward, "
                        + "predicted %.1f MiB; none %.1f MiB):%n",
                config.activationBudgetBytes() / (double) (1 << 20), 100 * RoiSelection.block(agreed).recomputeRatio(),
                RoiSelection.block(agreed).predictedBytes() / (double) (1 << 20),
                RoiSelection.none(agreed).predictedBytes() / (double) (1 << 20)) + choice.table();
    }

    /**
     * With roi, after the first step: the choice made, over the calibrated figures of every
     * segment ({@link RoiSelection#costs}); null before or with another policy.
     */
    public RoiSelection recomputeChoice() {
        return recomputeChoice;
    }

    /** The recompute plan table, once, after the first step chose it (roi); null otherwise. Rank 0 prints it. */
    public String takeRecomputeReport() {
        String report = recomputeReport;
        recomputeReport = null;
        return report;
    }

    /** The metrics.jsonl field of a step's activation peak: the most bytes a rank kept from forward to backward. */
    public static final String ACTIVATION_PEAK = "activation_peak_bytes";

    /**
     * Mean loss of {@code batchRows} (normalised by the objective) under the current weights, recording
     * nothing. This rank's share only: under Ulysses the loss of its slice of the rows (BenchTrain
     * calls it on one rank).
     */
    public double evaluate(List<Sample> batchRows) {
        try (NDManager scope = rank.manager().newSubManager()) {
            Batch batch = collator.collate(scope, batchRows, dtype, null);
            NDList out = engine.forward(scope, batch, new NDList(), params);
            double sum = 0;
            for (double term : objective.lossTerms(out).values()) {
                sum += term;
            }
            return sum / objective.normaliserCount(batchRows);
        }
    }

    /**
     * Restores the position of a resumed run (the learning-rate schedule follows it). The
     * optimizer's own step count comes back with its state from the checkpoint.
     */
    public void restore(long completedSteps) {
        this.step = completedSteps;
    }

    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        lines.addAll(model.describe());
        lines.add("steps " + totalSteps + ", micro-batches per step " + config.accumulationSteps());
        long used = rows.rowsPerEpoch();
        if (mostRowsPerEpoch > used) {
            String held = fewestRowsPerEpoch == mostRowsPerEpoch ? Long.toString(fewestRowsPerEpoch)
                    : fewestRowsPerEpoch + " to " + mostRowsPerEpoch;
            lines.add("data ranks hold " + held + " packed rows per epoch: every rank trains on its first " + used
                    + " (whole steps) and drops the rest (up to " + (mostRowsPerEpoch - used)
                    + " rows per rank per epoch), so all ranks run the same steps");
        }
        return lines;
    }
}
