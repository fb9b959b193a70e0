package ai.omnispark.models.llm;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Objective;
import ai.omnispark.models.api.Sample;
import java.util.List;
import java.util.Map;

/**
 * Token cross-entropy averaged over every labelled token of the global batch: the head outputs the
 * summed cross-entropy of its micro-batch, seeded with 1 / (global labelled tokens).
 */
final class TokenCrossEntropy implements Objective {
    static final String TERM = "ce";

    @Override
    public String normaliser() {
        return "tokens";
    }

    @Override
    public long normaliserCount(List<Sample> samples) {
        long count = 0;
        for (Sample s : samples) {
            count += DecoderBatch.lossTokens(s.ints(Sample.LABELS));
        }
        return count;
    }

    @Override
    public NDList seeds(NDManager scope, long globalCount, DataType dtype) {
        if (globalCount <= 0) {
            throw new IllegalArgumentException("the global batch has " + globalCount + " labelled tokens; the loss needs at least one");
        }
        return new NDList(scope.create(1.0 / (double) globalCount).toType(dtype, false));
    }

    @Override
    public Map<String, Double> lossTerms(NDList outputs) {
        return Map.of(TERM, outputs.singletonOrThrow().toType(DataType.FLOAT64, false).getDouble());
    }
}
