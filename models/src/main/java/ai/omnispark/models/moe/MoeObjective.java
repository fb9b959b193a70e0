package ai.omnispark.models.moe;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Token cross-entropy over the global batch's labelled tokens ("ce") plus, with
 * {@code output_router_logits}, the load-balancing term ("aux", already times
 * router_aux_loss_coef; {@link MoeCollator} says how it is weighted). Both head outputs are sums in
 * units of labelled tokens, so both take the seed 1 / (global labelled tokens).
 */
final class MoeObjective implements Objective {
    static final String CE = "ce";
    static final String AUX = "aux";

    private final boolean aux;

    MoeObjective(boolean aux) {
        this.aux = aux;
    }

    @Override
    public String normaliser() {
        return "tokens";
    }

    @Override
    public long normaliserCount(List<Sample> samples) {
        long count = 0;
        for (Sample s : samples) {
            count += TokenBatch.lossTokens(s.ints(Sample.LABELS));
        }
        return count;
    }

    @Override
    public NDList seeds(NDManager scope, long globalCount, DataType dtype) {
        if (globalCount <= 0) {
            throw new IllegalArgumentException("the global batch has " + globalCount + " labelled tokens; the loss needs at least one");
        }
        NDList seeds = new NDList(Ops.owned(scope.create(1.0 / (double) globalCount), dtype));
        if (aux) {
            seeds.add(Ops.owned(scope.create(1.0 / (double) globalCount), dtype));
        }
        return seeds;
    }

    @Override
    public Map<String, Double> lossTerms(NDList outputs) {
        int expected = aux ? 2 : 1;
        if (outputs.size() != expected) {
            throw new IllegalArgumentException("the MoE head gives " + expected + " outputs, got " + outputs.size());
        }
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put(CE, outputs.get(0).toType(DataType.FLOAT64, false).getDouble());
        if (aux) {
            terms.put(AUX, outputs.get(1).toType(DataType.FLOAT64, false).getDouble());
        }
        return terms;
    }
}
