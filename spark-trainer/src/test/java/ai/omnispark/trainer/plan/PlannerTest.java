package ai.omnispark.trainer.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
    private static final long GIB = 1L << 30;

    /** Memory and time set per candidate by hand: plan A fast and big, B slower and small, C slowest, smallest. */
    private static Estimate stub(PlanCandidate c) {
        long memory;
        double ms;
        switch (c.shard()) {
            case 1 -> { memory = 6 * GIB; ms = 100; }
            case 2 -> { memory = 4 * GIB; ms = 150; }
            default -> { memory = 3 * GIB + 1; ms = 400; }
        }
        return new Estimate(c, new StateMemory(0, 0, 0, 0, 0, 0), memory, 0, ms, 0, 1000);
    }

    private static List<PlanSpace.Option> options() {
        return List.of(new PlanSpace.Option(new PlanCandidate(4, 1, 1, 1, RecomputePolicy.NONE, 1), null),
                new PlanSpace.Option(new PlanCandidate(2, 2, 1, 1, RecomputePolicy.NONE, 1), null),
                new PlanSpace.Option(new PlanCandidate(1, 4, 1, 1, RecomputePolicy.NONE, 1), null),
                new PlanSpace.Option(new PlanCandidate(1, 1, 1, 4, RecomputePolicy.NONE, 1), "no experts"));
    }

    @Test
    void theFastestPlanThatFitsIsChosenAndTheRestExplained() {
        Planner.Ranking r = Planner.rank(options(), PlannerTest::stub, 5 * GIB);
        assertEquals(2, r.chosen().candidate().shard(), "A (6 GiB) is over 5 GiB, B is the fastest that fits");
        assertEquals(List.of(2, 4, 1, 1), r.rows().stream().map(x -> x.candidate().shard()).toList());
        assertTrue(r.rows().get(2).rejection().startsWith("needs 6.00G per rank, over 5.00G"));
        assertEquals("no experts", r.rows().get(3).rejection());
        assertNull(r.cannotFit());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PlanTable.print(r, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String table = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(table.contains("r2 s2 sp1 ep1 none mb1") && table.contains("CHOSEN"), table);
        assertTrue(table.contains("refused: no experts"), table);
    }

    @Test
    void whenNothingFitsTheMessageNamesTheSmallestMemoryThatWould() {
        Planner.Ranking r = Planner.rank(options(), PlannerTest::stub, 2 * GIB);
        assertNull(r.chosen());
        // the smallest is C at 3 GiB + 1 byte: rounded up to 3.01 GiB
        assertEquals("no parallel plan fits in 2.00G per rank; the smallest, r1 s4 sp1 ep1 none mb1, needs 3.00G "
                + "per rank: give --memory-gb 3.01 or more (or more ranks, a smaller micro-batch or a shorter sequence)",
                r.cannotFit());
        Planner.Ranking none = Planner.rank(List.of(options().get(3)), PlannerTest::stub, 2 * GIB);
        assertTrue(none.cannotFit().startsWith("no parallel plan is valid"), none.cannotFit());
    }
}
