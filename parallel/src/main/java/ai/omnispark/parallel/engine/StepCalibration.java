package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.NativeHeap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Measures, on one micro-batch, what each segment keeps for backward under every choice of
 * recomputed steps and how long each step's forward takes: the figures ROI recompute ranks.
 *
 * <p>The engine runs the micro-batch forward without recording; before each segment runs, its
 * steps are run again on the same inputs the way {@link SegmentEngine#forwardBackward} would run
 * them under each choice (kept steps recorded, runs of recomputed steps as one unrecorded region,
 * a fresh graph root at each boundary). What a trial keeps is then measured by letting it go: the
 * live C-heap bytes ({@link NativeHeap}, where libtorch allocates) are read just before and just
 * after everything the trial made is freed, and the drop is what autograd saved plus the boundary
 * tensors. Segments of the same kind and input shapes (the layers of a decoder) are measured once
 * and share the figures.
 *
 * <p>The heap is the process's, so other threads' allocations between two readings count too. Reading
 * around the free (microseconds) rather than around the forward (milliseconds to seconds, while the
 * JIT compiler, a data loader or another rank thread allocates and frees) is what keeps that noise
 * out: two calibrations of the same shapes agree to a few kilobytes instead of a factor of two.
 */
public final class StepCalibration {
    private static final int MEMORY_RUNS = 3;
    private final int repeats;

    /** @param repeats runs per timing; the median is kept (the first run warms up and is dropped) */
    public StepCalibration(int repeats) {
        if (repeats < 1) {
            throw new IllegalArgumentException("calibration repeats must be >= 1, got " + repeats);
        }
        if (!NativeHeap.available()) {
            throw new IllegalStateException("recompute calibration reads glibc's mallinfo2, which this system "
                    + "lacks (glibc 2.33 or later on Linux is needed)");
        }
        this.repeats = repeats;
    }

    /** The cost of every segment of {@code engine} that records a graph (not manual ones), in order. */
    public List<SegmentCost> measure(SegmentEngine engine, NDManager scope, Batch batch, NDList inputs,
            UnitParams params) {
        List<SegmentCost> costs = new ArrayList<>();
        Map<String, SegmentCost> byShape = new HashMap<>();
        engine.forward(scope, batch, inputs, params, (index, segment, call, in) -> {
            if (segment instanceof ManualSegment) {
                return;
            }
            List<Segment> steps = segment instanceof SteppedSegment s ? s.steps() : List.of(segment);
            List<String> names = segment instanceof SteppedSegment ? steps.stream().map(Segment::name).toList()
                    : List.of();
            String key = kind(segment.name()) + names.stream().map(StepCalibration::kind).toList()
                    + Arrays.toString(in.getShapes());
            SegmentCost known = byShape.get(key);
            if (known != null) {
                costs.add(known.renamed(segment.name(), names));
                return;
            }
            SegmentCost cost = measure(segment.name(), names, steps, call, in);
            byShape.put(key, cost);
            costs.add(cost);
        });
        return costs;
    }

    private SegmentCost measure(String name, List<String> names, List<Segment> steps, SegmentCall call, NDList in) {
        int n = names.size();
        double[][] times = new double[steps.size()][repeats];
        for (int r = -1; r < repeats; r++) {
            double[] t = trial(steps, 0, call, in, null);
            if (r >= 0) {
                for (int j = 0; j < steps.size(); j++) {
                    times[j][r] = t[j];
                }
            }
        }
        double[] stepMicros = new double[n];
        double total = 0;
        for (int j = 0; j < steps.size(); j++) {
            double m = median(times[j]);
            total += m;
            if (n > 0) {
                stepMicros[j] = m;
            }
        }
        // Each choice is measured MEMORY_RUNS times, one sweep after the other, and the median kept:
        // another thread may still allocate or free inside the short window around the free. A
        // reading below zero is such noise: a region keeps at least its outputs, so it counts as 0.
        long[][] runs = new long[1 << n][MEMORY_RUNS];
        for (int r = 0; r < MEMORY_RUNS; r++) {
            for (int mask = 0; mask < runs.length; mask++) {
                long[] bytes = new long[1];
                trial(steps, mask, call, in, bytes);
                runs[mask][r] = bytes[0];
            }
        }
        long[] kept = new long[1 << n];
        for (int mask = 0; mask < kept.length; mask++) {
            Arrays.sort(runs[mask]);
            kept[mask] = Math.max(0, runs[mask][MEMORY_RUNS / 2]);
        }
        return new SegmentCost(name, names, stepMicros, kept, total);
    }

    /**
     * Runs {@code steps} on {@code in} as the engine would with the steps of {@code mask} recomputed;
     * returns each step's time in µs, and in {@code keptBytes} (when given) the bytes live at the end.
     */
    private static double[] trial(List<Segment> steps, int mask, SegmentCall call, NDList in, long[] keptBytes) {
        double[] micros = new double[steps.size()];
        boolean previous = Autograd.isGradMode();
        NDManager trial = call.manager().newSubManager();
        try {
            SegmentCall c = call.in(trial);
            // What the steps make from weights and batch arrays would otherwise land in their managers,
            // outlive the trial and go uncounted, while the engine keeps it until the backward.
            c.lendArraysTo(trial);
            NDList x = in;
            List<NDList> held = new ArrayList<>();
            int j = 0;
            while (j < steps.size()) {
                boolean recomputed = (mask >> j & 1) == 1;
                int end = j + 1;
                while (recomputed && end < steps.size() && (mask >> end & 1) == 1) {
                    end++;
                }
                NDList leaves = SegmentEngine.boundaryLeaves(x);
                for (var a : leaves) {
                    if (a.getDataType().isFloating()) {
                        a.attach(trial); // a fresh root over x's storage; x itself may be the caller's
                    }
                }
                NDList out = leaves;
                try (NDManager temps = SegmentEngine.intermediates(trial, leaves)) {
                    Autograd.setGradMode(!recomputed);
                    for (int k = j; k < end; k++) {
                        long start = System.nanoTime();
                        out = steps.get(k).forward(c, out);
                        micros[k] = (System.nanoTime() - start) / 1e3;
                    }
                    Autograd.setGradMode(false);
                    SegmentEngine.keep(out, leaves, temps, trial);
                }
                held.add(leaves);
                held.add(out);
                x = SegmentEngine.detached(out);
                j = end;
            }
            held.clear();
            long live = NativeHeap.liveBytes();
            trial.close();
            if (keptBytes != null) {
                keptBytes[0] = live - NativeHeap.liveBytes();
            }
        } finally {
            trial.close();
            Autograd.setGradMode(previous);
        }
        return micros;
    }

    /** A segment's or step's name without its layer numbers: "attn.3.qkv" is of kind "attn.#.qkv". */
    private static String kind(String name) {
        return name.replaceAll("[0-9]+", "#");
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
