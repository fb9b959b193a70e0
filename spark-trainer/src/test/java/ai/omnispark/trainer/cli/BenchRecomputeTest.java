package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchRecomputeTest {
    private static List<BenchRecompute.Run> steps(double... ms) {
        return java.util.Arrays.stream(ms).mapToObj(t -> new BenchRecompute.Run(t, 0, 0, null)).toList();
    }

    /**
     * The tiny DiT's three repeats on a quiet machine: none 511.2, 423.8, 413.9 ms; roi 497.6, 427.8,
     * 491.2 ms. Medians per policy read roi +67.4 ms over none; paired per repeat the extras are
     * -13.6, +4.0 and +77.3 ms, whose median is 4.0 ms.
     */
    @Test
    void extrasAreMediansOfEachRepeatsDifferenceToItsOwnNoneRun() {
        Map<String, List<BenchRecompute.Run>> runs = new LinkedHashMap<>();
        runs.put("none", steps(511.2, 423.8, 413.9));
        runs.put("block", steps(666.8, 543.2, 538.4));
        runs.put("roi", steps(497.6, 427.8, 491.2));
        assertEquals(4.0, BenchRecompute.pairedExtra(runs, "roi"), 1e-9);
        assertEquals(124.5, BenchRecompute.pairedExtra(runs, "block"), 1e-9);
        runs.put("roi", steps(500.0, 430.0));
        assertEquals((500.0 - 511.2 + 430.0 - 423.8) / 2, BenchRecompute.pairedExtra(runs, "roi"), 1e-9,
                "an even count averages the middle two; only repeats both policies ran are paired");
    }
}
