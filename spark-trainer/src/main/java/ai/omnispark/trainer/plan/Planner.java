package ai.omnispark.trainer.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Ranks the candidates: every valid one is estimated, those that fit the per-rank memory come
 * first, fastest step first (then least memory); those over it follow, least memory first; the
 * layouts the model or batch refuses come last with their reasons. The chosen plan is the first
 * that fits; when none does, {@link Ranking#cannotFit} names the smallest memory that would.
 */
public final class Planner {
    /** A candidate's row of the table: its estimate (null when refused) and why it is out (null when chosen-able). */
    public record Row(PlanCandidate candidate, Estimate estimate, String rejection) {
        public boolean fits() {
            return rejection == null;
        }
    }

    /** The table, best first, and the memory it was judged against. */
    public record Ranking(List<Row> rows, long memoryBytes) {
        /** The fastest plan that fits, or null. */
        public Row chosen() {
            return rows.isEmpty() || !rows.get(0).fits() ? null : rows.get(0);
        }

        /** The valid plan with the least memory (what "would fit" means when none does), or null when none is valid. */
        public Row smallest() {
            return rows.stream().filter(r -> r.estimate() != null)
                    .min(Comparator.comparingLong(r -> r.estimate().memoryBytes())).orElse(null);
        }

        /** Why nothing was chosen, naming the smallest memory that would fit; null when a plan was. */
        public String cannotFit() {
            if (chosen() != null) {
                return null;
            }
            Row s = smallest();
            if (s == null) {
                return "no parallel plan is valid for this model at this world size; every layout is refused "
                        + "(see the reasons in the table)";
            }
            return String.format("no parallel plan fits in %s per rank; the smallest, %s, needs %s per rank: "
                    + "give --memory-gb %.2f or more (or more ranks, a smaller micro-batch or a shorter sequence)",
                    PlanTable.gib(memoryBytes), s.candidate().label(), PlanTable.gib(s.estimate().memoryBytes()),
                    Math.ceil(s.estimate().memoryBytes() / (double) (1L << 30) * 100) / 100);
        }
    }

    private Planner() {}

    public static Ranking rank(List<PlanSpace.Option> options, CostModel costs, long memoryBytes) {
        List<Row> fit = new ArrayList<>();
        List<Row> over = new ArrayList<>();
        List<Row> refused = new ArrayList<>();
        for (PlanSpace.Option o : options) {
            if (!o.valid()) {
                refused.add(new Row(o.candidate(), null, o.refusal()));
                continue;
            }
            Estimate e = costs.estimate(o.candidate());
            if (e.memoryBytes() <= memoryBytes) {
                fit.add(new Row(o.candidate(), e, null));
            } else {
                over.add(new Row(o.candidate(), e, "needs " + PlanTable.gib(e.memoryBytes()) + " per rank, over "
                        + PlanTable.gib(memoryBytes)));
            }
        }
        fit.sort(Comparator.comparingDouble((Row r) -> r.estimate().stepMs())
                .thenComparingLong(r -> r.estimate().memoryBytes()));
        over.sort(Comparator.comparingLong(r -> r.estimate().memoryBytes()));
        List<Row> rows = new ArrayList<>(fit);
        rows.addAll(over);
        rows.addAll(refused);
        return new Ranking(rows, memoryBytes);
    }
}
