package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.ReduceOp;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Under Ulysses, before the head: sums the router's slot counts per expert (the third input, int64
 * [E]) over the sp group, so each rank's {@link MoeHead} term {@code scale * sum_e C_e S_e} uses the
 * counts C of the whole rows with the summed probabilities S of its own tokens. The terms of the sp
 * ranks then add up to the one-rank term (S is a sum over tokens), which the trainer's sum over all
 * ranks counts once; and each rank's gradient of S, {@code scale * C}, is the one-rank gradient of its
 * tokens' probabilities. The counts take no gradient; the hidden state and S pass through both ways.
 */
final class SpRouterCounts implements ManualSegment {
    private final Communicator sp;

    SpRouterCounts(Communicator sp) {
        this.sp = sp;
    }

    @Override
    public String name() {
        return "sp.router_counts";
    }

    @Override
    public List<String> units() {
        return List.of();
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        if (inputs.size() != 3) {
            throw new IllegalStateException("expected the hidden state and the router statistics, got " + inputs.size()
                    + " inputs");
        }
        NDArray counts = inputs.get(2).duplicate();
        sp.allReduce(counts, ReduceOp.SUM).await();
        return new NDList(inputs.get(0), inputs.get(1), counts);
    }

    @Override
    public NDList backward(SegmentCall call, NDList inputs, NDList gradOutputs) {
        NDList grads = new NDList();
        grads.add(gradOutputs.get(0));
        grads.add(gradOutputs.get(1));
        grads.add(null);
        return grads;
    }
}
