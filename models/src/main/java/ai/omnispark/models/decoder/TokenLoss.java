package ai.omnispark.models.decoder;

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
 * A decoder's loss averaged over every labelled token of the global batch: the head outputs one
 * micro-batch sum per term, in units of labelled tokens (the token cross-entropy "ce", then any
 * family's extra terms), so every term takes the seed 1 / (global labelled tokens).
 */
public final class TokenLoss implements Objective {
    /** The token cross-entropy, the first term of every decoder's loss. */
    public static final String CE = "ce";

    private final List<String> terms;

    /** @param terms the names of the head's outputs, in order; the first is {@link #CE} */
    public TokenLoss(List<String> terms) {
        if (terms.isEmpty() || !terms.get(0).equals(CE)) {
            throw new IllegalArgumentException("a decoder's loss terms start with " + CE + ", got " + terms);
        }
        this.terms = List.copyOf(terms);
    }

    /** The token cross-entropy alone. */
    public static TokenLoss crossEntropy() {
        return new TokenLoss(List.of(CE));
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
        NDList seeds = new NDList();
        for (int i = 0; i < terms.size(); i++) {
            seeds.add(Ops.owned(scope.create(1.0 / (double) globalCount), dtype));
        }
        return seeds;
    }

    @Override
    public Map<String, Double> lossTerms(NDList outputs) {
        if (outputs.size() != terms.size()) {
            throw new IllegalArgumentException("the head gives the " + terms.size() + " outputs " + terms + ", got "
                    + outputs.size());
        }
        Map<String, Double> values = new LinkedHashMap<>();
        for (int i = 0; i < terms.size(); i++) {
            values.put(terms.get(i), outputs.get(i).toType(DataType.FLOAT64, false).getDouble());
        }
        return values;
    }
}
