package ai.omnispark.parallel.recompute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.engine.SegmentCost;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The greedy ROI choice against hand-built tables of measured costs, worked out by hand below. */
class RoiSelectionTest {
    // A: a0 frees 400 B for 100 us (ROI 4), a1 frees 500 B for 10 us (ROI 50), both free 900 B
    private static final SegmentCost A = new SegmentCost("A", List.of("a0", "a1"), new double[] {100, 10},
            new long[] {1000, 600, 500, 100}, 110);
    // B: b0 frees 100 B for 1 us (ROI 100)
    private static final SegmentCost B = new SegmentCost("B", List.of("b0"), new double[] {1}, new long[] {300, 200}, 1);
    // C: not stepped, keeps 50 B whatever happens
    private static final SegmentCost C = new SegmentCost("C", List.of(), new double[0], new long[] {50}, 20);
    private static final List<SegmentCost> TABLE = List.of(A, B, C);

    @Test
    void recomputesTheBestValueCandidatesUntilTheBudgetFits() {
        // nothing recomputed keeps 1000 + 300 + 50 = 1350 B
        assertEquals(Set.of(), RoiSelection.select(TABLE, 1350).recomputed());
        // b0 first (ROI 100): 1250 B
        RoiSelection b0 = RoiSelection.select(TABLE, 1300);
        assertEquals(List.of("b0"), b0.pickOrder());
        assertEquals(1250, b0.predictedBytes());
        // then a1 (ROI 50 beats a0's 4 and both's 900/110 = 8.2): 750 B
        RoiSelection a1 = RoiSelection.select(TABLE, 1000);
        assertEquals(List.of("b0", "a1"), a1.pickOrder());
        assertEquals(750, a1.predictedBytes());
        // recompute ratio: (1 + 10) us of 110 + 1 + 20 us of forward
        assertEquals(11.0 / 131, a1.recomputeRatio(), 1e-12);
        // then a0 (frees 400 more for 100 us): 350 B, the smallest reachable
        RoiSelection all = RoiSelection.select(TABLE, 350);
        assertEquals(List.of("b0", "a1", "a0"), all.pickOrder());
        assertEquals(350, all.predictedBytes());
        assertEquals(RoiSelection.block(TABLE).predictedBytes(), all.predictedBytes());
        assertEquals(111.0 / 131, RoiSelection.block(TABLE).recomputeRatio(), 1e-12);
        assertEquals(0, RoiSelection.none(TABLE).recomputeRatio());
    }

    @Test
    void picksStepsTogetherWhenOnlyTogetherTheyFreeMemory() {
        // like a linear that saves its input: recomputing either step alone frees nothing
        SegmentCost d = new SegmentCost("D", List.of("d0", "d1"), new double[] {1, 1}, new long[] {1000, 1000, 1000, 0}, 2);
        assertEquals(Set.of("d0", "d1"), RoiSelection.select(List.of(d, B), 500).recomputed());
    }

    @Test
    void anUnreachableBudgetNamesTheSmallestReachableMemory() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RoiSelection.select(TABLE, 349));
        assertTrue(e.getMessage().contains("350 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("activation_memory_budget_mb"), e.getMessage());
    }

    @Test
    void theTableListsEveryCandidateWithItsDecision() {
        String table = RoiSelection.select(TABLE, 1000).table();
        assertTrue(table.lines().anyMatch(l -> l.startsWith("a0") && l.contains("400") && l.endsWith("kept")), table);
        assertTrue(table.lines().anyMatch(l -> l.startsWith("a1") && l.contains("500") && l.contains("recomputed (pick 2)")),
                table);
        assertTrue(table.contains("recompute ratio 8.4 %"), table);
    }
}
