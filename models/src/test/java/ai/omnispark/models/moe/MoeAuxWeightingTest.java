package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What the aux term of a step split into micro-batches is (docs/moe.md): each micro-batch's head
 * gives n_m * coef * aux_m (n_m its labelled tokens, aux_m transformers' load-balancing loss over
 * its own tokens), which the trainer sums over micro-batches and ranks and divides by the global
 * labelled tokens N. So loss_aux = coef * sum_m n_m aux_m / N, with aux_m from the float64 reference.
 */
class MoeAuxWeightingTest {
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    @Test
    void theStepsAuxIsTheLabelledTokenWeightedMeanOfTheMicroBatches() {
        List<Sample> rows = TinyMoe.packedRows(11, 11, 21);
        double n = TinyMoe.labelled(rows);
        try (MoeLM model = TinyMoe.model(TinyMoe.json("qwen2_moe", false), "sdpa");
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 5)) {
            MoeReference reference = new MoeReference(model.config(), TinyMoe.weights(model, params));
            double coef = model.config().routerAuxLossCoef();
            double summed = 0;
            double want = 0;
            for (Sample row : rows) {
                List<Sample> micro = List.of(row);
                double[] terms = TinyMoe.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, micro, (long) n,
                        ai.omnispark.parallel.engine.Recompute.none());
                summed += terms[1];
                want += TinyMoe.labelled(micro) * coef * reference.forward(micro).aux();
            }
            double lossAux = summed / n;
            assertEquals(want / n, lossAux, 1e-12);
            double union = coef * reference.forward(rows).aux();
            // Not one aux over the union of the micro-batches: that product of global sums differs.
            assertTrue(Math.abs(union - lossAux) > 1e-6, "union " + union + ", per micro-batch " + lossAux);
            System.out.printf("loss_aux over 2 micro-batches %.8f; coef * aux over their union %.8f%n", lossAux, union);
        }
    }
}
