package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.nn.LinearCrossEntropy;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Final norm and output projection. Training: the summed token cross-entropy (chunked, as the dense
 * decoder's head) and, with the load-balancing loss on, its micro-batch term
 * {@code aux_scale * sum_e C_e * S_e} from the router statistics of all sparse layers, where
 * {@code aux_scale} ({@link MoeCollator}) makes it {@code labelled tokens * coef * aux}. Evaluation:
 * the logits.
 */
final class MoeHead implements Segment {
    static final String UNIT = "head";

    private final MoeConfig config;
    private final boolean loss;
    private final int lossChunkTokens;

    MoeHead(MoeConfig config, boolean loss, int lossChunkTokens) {
        this.config = config;
        this.loss = loss;
        this.lossChunkTokens = lossChunkTokens;
    }

    @Override
    public String name() {
        return loss ? "head.loss" : "head.logits";
    }

    @Override
    public List<String> units() {
        return config.tieWordEmbeddings() ? List.of(UNIT, MoeEmbed.UNIT) : List.of(UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = Ops.rmsNorm(inputs.get(0), call.param(MoeNames.FINAL_NORM), config.rmsNormEps());
        NDArray weight = call.param(config.tieWordEmbeddings() ? MoeNames.EMBED : MoeNames.LM_HEAD);
        if (!loss) {
            return new NDList(Ops.linear(x, weight, null));
        }
        int chunk = LinearCrossEntropy.chunkTokens(lossChunkTokens, config.vocabSize(), x.getDataType().getNumOfBytes());
        NDArray ce = LinearCrossEntropy.sum(call.manager(), x.reshape(-1, config.hiddenSize()), weight,
                call.batch().get(TokenBatch.LABELS), call.batch().get(TokenBatch.LABEL_MASK), chunk);
        if (!config.auxLoss()) {
            return new NDList(ce);
        }
        if (inputs.size() != 3) {
            throw new IllegalStateException("the head expects the router statistics after the hidden state, got "
                    + inputs.size() + " inputs");
        }
        NDArray probSums = inputs.get(1);
        NDArray counts = inputs.get(2).toType(probSums.getDataType(), false);
        NDArray aux = probSums.mul(counts).sum().mul(call.batch().get(MoeCollator.AUX_SCALE));
        return new NDList(ce, aux);
    }
}
