package ai.omnispark.parallel.recompute;

import ai.omnispark.parallel.engine.SegmentCost;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which recompute candidates (steps of stepped segments) to recompute so that the activation
 * memory fits a budget, chosen greedily by return on investment: at each pick, among every
 * segment's ways to recompute more of its steps, the one that frees the most bytes per
 * microsecond of added recompute, until the predicted kept bytes are within the budget.
 *
 * <p>A segment's bytes are measured per set of recomputed steps ({@link SegmentCost#keptBytes}),
 * not summed per step: a tensor is only freed when its consumers are recomputed too (a linear
 * saves its input), so one step alone may free nothing while it and its neighbour together free
 * both their tensors; a pick may therefore add several steps of one segment at once.
 */
public final class RoiSelection {
    private final List<SegmentCost> costs;
    private final int[] masks;
    private final List<String> order;

    private RoiSelection(List<SegmentCost> costs, int[] masks, List<String> order) {
        this.costs = List.copyOf(costs);
        this.masks = masks;
        this.order = List.copyOf(order);
    }

    /** Nothing recomputed. */
    public static RoiSelection none(List<SegmentCost> costs) {
        return new RoiSelection(costs, new int[costs.size()], List.of());
    }

    /** Every step of every stepped segment recomputed: the block policy. */
    public static RoiSelection block(List<SegmentCost> costs) {
        int[] masks = new int[costs.size()];
        List<String> order = new ArrayList<>();
        for (int i = 0; i < costs.size(); i++) {
            masks[i] = (1 << costs.get(i).steps().size()) - 1;
            order.addAll(costs.get(i).steps());
        }
        return new RoiSelection(costs, masks, order);
    }

    /**
     * The greedy choice for {@code budgetBytes}.
     *
     * @throws IllegalArgumentException when no choice fits, naming the smallest activation memory reachable
     */
    public static RoiSelection select(List<SegmentCost> costs, long budgetBytes) {
        long smallest = 0;
        for (SegmentCost c : costs) {
            long min = Long.MAX_VALUE;
            for (long b : c.keptBytes()) {
                min = Math.min(min, b);
            }
            smallest += min;
        }
        if (smallest > budgetBytes) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "train.activation_memory_budget_mb = %.4g cannot be met: the smallest activation memory "
                            + "reachable by recomputing is %.1f MiB (%d bytes) per micro-batch; raise the budget "
                            + "to at least that, or lower train.micro_batch_size or the sequence length",
                    budgetBytes / (double) (1 << 20), smallest / (double) (1 << 20), smallest));
        }
        int[] masks = new int[costs.size()];
        List<String> order = new ArrayList<>();
        long total = kept(costs, masks);
        while (total > budgetBytes) {
            int bestSegment = -1;
            int bestMask = 0;
            double bestRoi = -1;
            for (int i = 0; i < costs.size(); i++) {
                SegmentCost c = costs.get(i);
                long now = c.keptBytes()[masks[i]];
                for (int m = 0; m < c.keptBytes().length; m++) {
                    if ((m & masks[i]) != masks[i] || m == masks[i]) {
                        continue;
                    }
                    long freed = now - c.keptBytes()[m];
                    if (freed <= 0) {
                        continue;
                    }
                    double micros = 0;
                    for (int j = 0; j < c.steps().size(); j++) {
                        if ((m >> j & 1) == 1 && (masks[i] >> j & 1) == 0) {
                            micros += c.stepMicros()[j];
                        }
                    }
                    double roi = freed / Math.max(micros, 1e-3);
                    if (roi > bestRoi) {
                        bestRoi = roi;
                        bestSegment = i;
                        bestMask = m;
                    }
                }
            }
            if (bestSegment < 0) {
                // Measurement noise can make the smallest set not a superset of the picks so far:
                // finish with each remaining segment's smallest choice, which fits (checked above).
                for (int i = 0; i < costs.size(); i++) {
                    int min = argMin(costs.get(i).keptBytes());
                    addOrder(costs.get(i), masks[i], min, order);
                    masks[i] = min;
                }
                break;
            }
            addOrder(costs.get(bestSegment), masks[bestSegment], bestMask, order);
            masks[bestSegment] = bestMask;
            total = kept(costs, masks);
        }
        return new RoiSelection(costs, masks, order);
    }

    private static void addOrder(SegmentCost c, int from, int to, List<String> order) {
        for (int j = 0; j < c.steps().size(); j++) {
            if ((to >> j & 1) == 1 && (from >> j & 1) == 0) {
                order.add(c.steps().get(j));
            }
        }
    }

    private static int argMin(long[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] < values[best]) {
                best = i;
            }
        }
        return best;
    }

    private static long kept(List<SegmentCost> costs, int[] masks) {
        long total = 0;
        for (int i = 0; i < costs.size(); i++) {
            total += costs.get(i).keptBytes()[masks[i]];
        }
        return total;
    }

    /** The measured figures the choice was made over, one per segment in run order. */
    public List<SegmentCost> costs() {
        return costs;
    }

    /** The names of the steps to recompute. */
    public Set<String> recomputed() {
        return new HashSet<>(order);
    }

    /** The recomputed steps in the order they were picked. */
    public List<String> pickOrder() {
        return order;
    }

    /** The activation bytes per micro-batch the measurements predict for this choice. */
    public long predictedBytes() {
        return kept(costs, masks);
    }

    /** Recomputed forward time over the whole forward time (every measured segment's). */
    public double recomputeRatio() {
        double recomputed = 0;
        double total = 0;
        for (int i = 0; i < costs.size(); i++) {
            SegmentCost c = costs.get(i);
            total += c.forwardMicros();
            for (int j = 0; j < c.steps().size(); j++) {
                if ((masks[i] >> j & 1) == 1) {
                    recomputed += c.stepMicros()[j];
                }
            }
        }
        return total == 0 ? 0 : recomputed / total;
    }

    /**
     * The plan as a table: per candidate its bytes (what recomputing it alone frees), its recompute
     * time, their ratio and the decision; then the predicted activation memory and the recompute ratio.
     */
    public String table() {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%-28s %12s %10s %14s  %s%n", "candidate", "bytes", "us",
                "ROI (MiB/ms)", "decision"));
        for (int i = 0; i < costs.size(); i++) {
            SegmentCost c = costs.get(i);
            for (int j = 0; j < c.steps().size(); j++) {
                long alone = c.keptBytes()[0] - c.keptBytes()[1 << j];
                double us = c.stepMicros()[j];
                int pick = order.indexOf(c.steps().get(j));
                out.append(String.format(Locale.ROOT, "%-28s %12d %10.1f %14.3f  %s%n", c.steps().get(j), alone, us,
                        alone / Math.max(us, 1e-3) * 1000 / (1 << 20),
                        (masks[i] >> j & 1) == 1 ? "recomputed (pick " + (pick + 1) + ")" : "kept"));
            }
        }
        out.append(String.format(Locale.ROOT, "activation memory (predicted): %.1f MiB per micro-batch; "
                + "recompute ratio %.1f %%%n", predictedBytes() / (double) (1 << 20), 100 * recomputeRatio()));
        return out.toString();
    }
}
