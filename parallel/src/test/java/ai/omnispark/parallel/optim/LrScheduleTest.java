package ai.omnispark.parallel.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
    @Test
    void warmupThenCosineToMinimum() {
        LrSchedule s = new LrSchedule(1.0, 0.1, 10, 110, LrSchedule.Decay.COSINE);
        assertEquals(0.1, s.lr(0), 1e-12);
        assertEquals(1.0, s.lr(9), 1e-12);
        assertEquals(1.0, s.lr(10), 1e-12);
        assertEquals(0.55, s.lr(60), 1e-12);
        assertEquals(0.1, s.lr(110), 1e-12);
    }

    @Test
    void linearAndConstant() {
        LrSchedule lin = new LrSchedule(2.0, 0.0, 0, 100, LrSchedule.Decay.LINEAR);
        assertEquals(2.0, lin.lr(0), 1e-12);
        assertEquals(1.0, lin.lr(50), 1e-12);
        LrSchedule c = new LrSchedule(2.0, 0.0, 0, 100, LrSchedule.Decay.CONSTANT);
        assertEquals(2.0, c.lr(99), 1e-12);
    }

    @Test
    void rejectsImpossibleValues() {
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0, 0, 0, 10, LrSchedule.Decay.CONSTANT));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 2, 0, 10, LrSchedule.Decay.CONSTANT));
        assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1, 0, 11, 10, LrSchedule.Decay.CONSTANT));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.decay("exp"));
    }
}
