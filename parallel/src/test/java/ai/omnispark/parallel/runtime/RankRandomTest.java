package ai.omnispark.parallel.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RankRandomTest {
    private static long[] draw(RankRandom r, int n) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = r.nextLong();
        }
        return out;
    }

    @Test
    void aRestoredStateContinuesTheStreamExactly() {
        RankRandom a = new RankRandom(42, 1);
        draw(a, 1000);
        long saved = a.state();
        long[] expected = draw(a, 1000);
        RankRandom b = new RankRandom(7, 3);
        b.restore(saved);
        assertArrayEquals(expected, draw(b, 1000));
    }

    @Test
    void seedAndRankEachGiveTheirOwnStream() {
        long[] base = draw(new RankRandom(42, 0), 64);
        assertArrayEquals(base, draw(new RankRandom(42, 0), 64), "same seed and rank");
        assertFalse(java.util.Arrays.equals(base, draw(new RankRandom(42, 1), 64)), "another rank");
        assertFalse(java.util.Arrays.equals(base, draw(new RankRandom(43, 0), 64)), "another seed");
        assertThrows(IllegalArgumentException.class, () -> new RankRandom(42, -1));
    }

    /** Uniform in [0, 1): mean 1/2 and P(x < 0.1) = 0.1, each within 5 standard errors of 10^6 draws. */
    @Test
    void doublesAreUniform() {
        RankRandom r = new RankRandom(5, 2);
        int n = 1_000_000;
        double sum = 0;
        int below = 0;
        for (int i = 0; i < n; i++) {
            double x = r.nextDouble();
            assertTrue(x >= 0 && x < 1, "draw " + x);
            sum += x;
            below += x < 0.1 ? 1 : 0;
        }
        assertEquals(0.5, sum / n, 5 * Math.sqrt(1.0 / 12 / n));
        assertEquals(0.1, (double) below / n, 5 * Math.sqrt(0.1 * 0.9 / n));
    }
}
