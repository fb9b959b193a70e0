package ai.omnispark.models.wan;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.Ops;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The flow-matching loss averaged over the samples of the global batch: the head outputs one
 * micro-batch sum of weighted per-sample mean squared errors ("mse"), seeded 1 / (global samples).
 */
final class FlowMatchingLoss implements Objective {
    static final String MSE = "mse";

    @Override
    public String normaliser() {
        return "samples";
    }

    @Override
    public long normaliserCount(List<Sample> samples) {
        return samples.size();
    }

    @Override
    public NDList seeds(NDManager scope, long globalCount, DataType dtype) {
        if (globalCount <= 0) {
            throw new IllegalArgumentException("the global batch has " + globalCount + " samples; the loss needs one");
        }
        return new NDList(Ops.owned(scope.create(1.0 / (double) globalCount), dtype));
    }

    @Override
    public Map<String, Double> lossTerms(NDList outputs) {
        if (outputs.size() != 1) {
            throw new IllegalArgumentException("the wan head gives one output (" + MSE + "), got " + outputs.size());
        }
        Map<String, Double> values = new LinkedHashMap<>();
        values.put(MSE, outputs.get(0).toType(DataType.FLOAT64, false).getDouble());
        return values;
    }
}
