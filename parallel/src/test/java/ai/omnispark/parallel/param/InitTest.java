package ai.omnispark.parallel.param;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class InitTest {
    /**
     * PyTorch's chain (torch/nn/init.py): gain = calculate_gain("leaky_relu", a) = sqrt(2 / (1 + a^2)),
     * std = gain / sqrt(fan_in), bound = sqrt(3) * std.
     */
    private static double torchBound(double a, long fanIn) {
        double gain = Math.sqrt(2.0 / (1 + a * a));
        double std = gain / Math.sqrt(fanIn);
        return Math.sqrt(3.0) * std;
    }

    @Test
    void kaimingUniformBoundIsPytorchs() {
        for (long fanIn : new long[] {1, 7, 16, 4096}) {
            for (double a : new double[] {0, 1, Math.sqrt(5)}) {
                Init.KaimingUniform k = new Init.KaimingUniform(a, fanIn);
                assertEquals(torchBound(a, fanIn), k.bound(), 1e-15 * torchBound(a, fanIn), "a=" + a + " fanIn=" + fanIn);
            }
            // PEFT's lora_A: a = sqrt(5) gives exactly 1/sqrt(fan_in).
            assertEquals(1 / Math.sqrt(fanIn), new Init.KaimingUniform(Math.sqrt(5), fanIn).bound(), 1e-15);
        }
    }

    @Test
    void kaimingUniformValuesFillTheBoundUniformly() {
        long fanIn = 16;
        double bound = 0.25; // 1/sqrt(16)
        double[] v = new double[200_000];
        Init.kaimingUniform(Math.sqrt(5), fanIn).fill(v, 42, "layers.0.q_proj.lora_A.weight");
        double min = Arrays.stream(v).min().orElseThrow();
        double max = Arrays.stream(v).max().orElseThrow();
        double mean = Arrays.stream(v).average().orElseThrow();
        double var = Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / v.length;
        assertTrue(min >= -bound && max < bound, "values outside [-" + bound + ", " + bound + "): " + min + " .. " + max);
        // 200k draws: the extremes come within 1e-3 of the bound, the mean within 5 standard errors of 0,
        // the variance within 1 % of a uniform's bound^2 / 3.
        assertTrue(max > bound * 0.999 && min < -bound * 0.999, "values do not reach the bound: " + min + " .. " + max);
        assertEquals(0, mean, 5 * bound / Math.sqrt(3 * v.length));
        assertEquals(bound * bound / 3, var, 0.01 * bound * bound / 3);
    }

    @Test
    void kaimingUniformIsDeterministicPerSeedAndName() {
        Init init = Init.kaimingUniform(Math.sqrt(5), 8);
        double[] a = new double[100];
        double[] b = new double[100];
        init.fill(a, 7, "m.lora_A.weight");
        init.fill(b, 7, "m.lora_A.weight");
        assertArrayEquals(a, b, 0);
        // Drawn in parts (as UnitLayout.initialValues does), the same sequence.
        Init.Values parts = init.values(7, "m.lora_A.weight");
        double[] part = new double[30];
        for (int done = 0; done < 100; done += 30) {
            int n = Math.min(30, 100 - done);
            parts.next(part, n);
            assertArrayEquals(Arrays.copyOfRange(a, done, done + n), Arrays.copyOf(part, n), 0);
        }
        init.fill(b, 8, "m.lora_A.weight");
        assertFalse(Arrays.equals(a, b), "another seed gives the same values");
        init.fill(b, 7, "n.lora_A.weight");
        assertFalse(Arrays.equals(a, b), "another parameter gives the same values");
    }

    @Test
    void kaimingUniformRefusesBadArguments() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Init.kaimingUniform(Math.sqrt(5), 0))
                .getMessage().contains("fan-in"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Init.kaimingUniform(Double.NaN, 3))
                .getMessage().contains("negative slope"));
    }
}
