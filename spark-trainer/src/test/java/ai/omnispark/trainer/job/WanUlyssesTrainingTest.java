package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.loop.StepResult;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ulysses sequence parallelism for the Wan DiT through the trainer, on {@link WanTrainingTest}'s
 * tiny T2V model and rows (8 patch tokens a sample, 2 heads; text dropout, gaussian weights on):
 * each sp rank trains on half of every sample's tokens, self-attention exchanges heads. The sp ranks
 * of a data-parallel rank share its generator, so a layout is compared with the same data-parallel
 * ranks without sp: SP 2 (and SP 2 with recompute) against one rank, FSDP 2 x SP 2 on 4 ranks against
 * FSDP 2 on 2 ranks. Every step's loss and gradient norm within {@value WanTrainingTest#TOLERANCE}
 * relative, every final weight within {@value WanTrainingTest#TOLERANCE} absolute.
 */
class WanUlyssesTrainingTest {
    private static final double TOLERANCE = WanTrainingTest.TOLERANCE;

    @TempDir
    static Path dir;

    /** WanTrainingTest's model config and run directories, here in this class's own temporary folder. */
    @BeforeAll
    static void writeModel() throws Exception {
        WanTrainingTest.dir = dir;
        WanTrainingTest.writeModel();
    }

    @Test
    void sp2AndFsdp2xSp2MatchTheSameDataParallelRanksWithoutSp() throws Exception {
        WanTrainingTest.Run one = WanTrainingTest.run(WanTrainingTest.settings(1), 0);
        assertSame("sp2", one, WanTrainingTest.run(WanTrainingTest.settings(2, "train.ulysses_parallel_size=2"), 0));
        assertSame("sp2 recompute", one, WanTrainingTest.run(WanTrainingTest.settings(2,
                "train.ulysses_parallel_size=2", "train.enable_gradient_checkpointing=true"), 0));
        WanTrainingTest.Run fsdp2 = WanTrainingTest.run(WanTrainingTest.settings(2), 0);
        assertSame("fsdp2 x sp2", fsdp2, WanTrainingTest.run(WanTrainingTest.settings(4,
                "train.accelerator.ulysses_size=2"), 0));
    }

    private static void assertSame(String what, WanTrainingTest.Run ref, WanTrainingTest.Run run) {
        assertEquals(ref.steps().keySet(), run.steps().keySet(), what);
        double worst = 0;
        for (long step : ref.steps().keySet()) {
            StepResult a = ref.steps().get(step);
            StepResult b = run.steps().get(step);
            for (double[] pair : new double[][] {{a.loss(), b.loss()}, {a.gradNorm(), b.gradNorm()}}) {
                double rel = Math.abs(pair[0] - pair[1]) / Math.abs(pair[0]);
                worst = Math.max(worst, rel);
                assertTrue(rel <= TOLERANCE, what + " step " + step + ": " + pair[0] + " vs " + pair[1]);
            }
        }
        double w = 0;
        for (String unit : ref.weights().keySet()) {
            float[] x = ref.weights().get(unit);
            float[] y = run.weights().get(unit);
            assertEquals(x.length, y.length, unit);
            for (int i = 0; i < x.length; i++) {
                w = Math.max(w, Math.abs(x[i] - y[i]));
                assertTrue(Math.abs(x[i] - y[i]) <= TOLERANCE, what + " " + unit + "[" + i + "]: " + x[i] + " vs " + y[i]);
            }
        }
        System.out.printf("wan %s: loss/grad norm within %.2e relative, weights within %.2e%n", what, worst, w);
    }
}
