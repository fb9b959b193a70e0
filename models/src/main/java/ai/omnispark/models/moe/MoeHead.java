package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderHead;
import ai.omnispark.parallel.engine.SegmentCall;

/**
 * The decoder head ({@link DecoderHead}: final norm, output projection, chunked summed token
 * cross-entropy) plus, with the load-balancing loss on, its micro-batch term
 * {@code aux_scale * sum_e C_e * S_e} from the router statistics of all sparse layers, where
 * {@code aux_scale} ({@link MoeCollator}) makes it {@code labelled tokens * coef * aux}.
 */
final class MoeHead extends DecoderHead {
    /** The loss term of the load-balancing loss, after the cross-entropy. */
    static final String AUX = "aux";

    private final MoeConfig config;

    MoeHead(MoeConfig config, boolean loss, int lossChunkTokens) {
        super(config, loss, lossChunkTokens);
        this.config = config;
    }

    @Override
    protected NDList lossOutputs(SegmentCall call, NDList inputs, NDArray ce) {
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
