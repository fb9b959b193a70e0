package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The flow-matching objective against values worked out by hand from the issue's formulas: the
 * shifted sigma at chosen grid points, the gaussian weights' normalisation and ratios, and a
 * collated batch's x_t, target, timesteps, text dropout and image-to-video channels against the
 * generator's draws replayed here in the documented order.
 */
class FlowMatchingTest {
    @Test
    void shiftedSigmaMatchesTheHandTable() {
        // sigma = (i + 1) / 1000; shift 5: sigma' = 5 sigma / (1 + 4 sigma).
        assertEquals(0.005 / 1.004, FlowMatching.shift(FlowMatching.sigma(0), 5), 1e-15);
        assertEquals(0.5 / 1.4, FlowMatching.shift(FlowMatching.sigma(99), 5), 1e-15); // 0.357142857...
        assertEquals(2.5 / 3.0, FlowMatching.shift(FlowMatching.sigma(499), 5), 1e-15); // t = 833.33
        assertEquals(1.0, FlowMatching.shift(FlowMatching.sigma(999), 5), 1e-15);
        assertEquals(0.25, FlowMatching.shift(0.25, 1), 0);
        assertThrows(IllegalArgumentException.class, () -> FlowMatching.sigma(1000));
    }

    @Test
    void gaussianWeightsAreNormalisedAsTheIssueSays() {
        // shift 1: t_i = i + 1; y = exp(-2 ((t - 500) / 1000)^2) is smallest at t = 1000 (y = e^-0.5),
        // largest at t = 500 (y = 1); w = (y - min y) 1000 / sum(y - min y).
        double[] w = FlowMatching.gaussianWeights(1);
        double sum = 0;
        for (double v : w) {
            sum += v;
            assertTrue(v >= 0);
        }
        assertEquals(1000, sum, 1e-9);
        assertEquals(0, w[999], 0);
        double ymin = Math.exp(-0.5);
        double y0 = Math.exp(-2 * 0.499 * 0.499);
        assertEquals((1 - ymin) / (y0 - ymin), w[499] / w[0], 1e-9);
        FlowMatching none = new FlowMatching(new DiffusionOptions(5, DiffusionOptions.NONE, 0));
        assertEquals(1, none.weight(123), 0);
        FlowMatching gaussian = new FlowMatching(new DiffusionOptions(5, DiffusionOptions.GAUSSIAN, 0));
        assertEquals(FlowMatching.gaussianWeights(5)[123], gaussian.weight(123), 0);
    }

    @Test
    void badSettingsAreRefusedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DiffusionOptions(0, "none", 0.1))
                .getMessage().contains("train.flow_shift"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DiffusionOptions(5, "cosine", 0.1))
                .getMessage().contains("train.timestep_weighting"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DiffusionOptions(5, "none", 1.0))
                .getMessage().contains("train.text_dropout"));
    }

    /** Replays the documented draw order: index, dropout, then Box-Muller noise pairs, sample by sample. */
    @Test
    void collatedBatchFollowsTheDrawsInTheirOrder() {
        DiffusionOptions options = new DiffusionOptions(5, DiffusionOptions.GAUSSIAN, 0.5);
        WanConfig config = WanConfigJson.parse(TinyWan.json(true));
        List<Sample> rows = TinyWan.samples(6, true, 9);
        int elems = 4 * 2 * 4 * 4;
        try (NDManager scope = NDManager.newBaseManager()) {
            Batch batch = new WanCollator(config, new FlowMatching(options)).collate(scope, rows, DataType.FLOAT64,
                    new RankRandom(77, 2));
            double[] hidden = batch.get(WanBatch.HIDDEN_STATES).toDoubleArray();
            double[] target = batch.get(WanBatch.TARGET).toDoubleArray();
            double[] t = batch.get(WanBatch.TIMESTEP).toDoubleArray();
            double[] weight = batch.get(WanBatch.LOSS_WEIGHT).toDoubleArray();
            double[] text = batch.get(WanBatch.ENCODER_HIDDEN_STATES).toDoubleArray();
            double[] gaussian = FlowMatching.gaussianWeights(5);
            RankRandom replay = new RankRandom(77, 2);
            int dropped = 0;
            int inElems = 12 * 2 * 4 * 4;
            for (int n = 0; n < rows.size(); n++) {
                int index = (int) (replay.nextDouble() * 1000);
                boolean drop = replay.nextDouble() < 0.5;
                double[] noise = new double[elems];
                for (int k = 0; k < elems; k += 2) {
                    double r = Math.sqrt(-2 * Math.log(1 - replay.nextDouble()));
                    double a = 2 * Math.PI * replay.nextDouble();
                    noise[k] = r * Math.cos(a);
                    noise[k + 1] = r * Math.sin(a);
                }
                double sigma = 5 * (index + 1) / 1000.0 / (1 + 4 * (index + 1) / 1000.0);
                assertEquals(1000 * sigma, t[n], 1e-9, "timestep of row " + n);
                assertEquals(gaussian[index], weight[n], 1e-12);
                float[] x0 = rows.get(n).floats(Sample.LATENTS);
                float[] cond = rows.get(n).floats(Sample.COND_LATENTS);
                for (int k = 0; k < elems; k++) {
                    assertEquals((1 - sigma) * x0[k] + sigma * noise[k], hidden[n * inElems + k], 1e-12);
                    assertEquals(noise[k] - x0[k], target[n * elems + k], 1e-12);
                    assertEquals(cond[k], hidden[n * inElems + elems + 4 * 32 + k], 0, "cond latents after the mask");
                }
                for (int m = 0; m < 4; m++) {
                    for (int k = 0; k < 32; k++) {
                        // mask channel m: frame 0 (16 values) ones, frame 1 zeros
                        assertEquals(k < 16 ? 1.0 : 0.0, hidden[n * inElems + elems + m * 32 + k], 0);
                    }
                }
                float[] own = rows.get(n).floats(Sample.TEXT_EMBEDS);
                for (int k = 0; k < own.length; k++) {
                    assertEquals(drop ? 0.0 : own[k], text[n * own.length + k], 0, "text of row " + n);
                }
                dropped += drop ? 1 : 0;
            }
            System.out.printf("flow matching: %d of %d rows dropped their text%n", dropped, rows.size());
            assertTrue(dropped > 0 && dropped < rows.size(), "seed 77 drops some rows' text and keeps others'");
            // Evaluation draws from a fixed generator and drops no text: two collations agree.
            double[] eval1 = new WanCollator(config, new FlowMatching(options)).collate(scope, rows, DataType.FLOAT64, null)
                    .get(WanBatch.HIDDEN_STATES).toDoubleArray();
            double[] eval2 = new WanCollator(config, new FlowMatching(options)).collate(scope, rows, DataType.FLOAT64, null)
                    .get(WanBatch.HIDDEN_STATES).toDoubleArray();
            assertArrayEquals(eval1, eval2, 0);
        }
    }

    @Test
    void rowsThatDoNotFitTheModelAreRefused() {
        WanConfig t2v = WanConfigJson.parse(TinyWan.json(false));
        WanConfig i2v = WanConfigJson.parse(TinyWan.json(true));
        FlowMatching flow = new FlowMatching(DiffusionOptions.defaults());
        try (NDManager scope = NDManager.newBaseManager()) {
            Sample wide = Sample.latents(new float[5 * 32], new int[] {5, 2, 4, 4}, new float[18], new int[] {3, 6},
                    null, null, null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new WanCollator(t2v, flow).collate(scope,
                    List.of(wide), DataType.FLOAT32, new RankRandom(1, 0))).getMessage().contains("5 channels"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new WanCollator(i2v, flow).collate(scope,
                    TinyWan.samples(1, false, 1), DataType.FLOAT32, new RankRandom(1, 0))).getMessage()
                    .contains(Sample.IMAGE_EMBEDS));
            Sample odd = Sample.latents(new float[4 * 2 * 3 * 4], new int[] {4, 2, 3, 4}, new float[18], new int[] {3, 6},
                    null, null, null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> new WanCollator(t2v, flow).collate(scope,
                    List.of(odd), DataType.FLOAT32, new RankRandom(1, 0))).getMessage().contains("patch_size"));
        }
    }
}
