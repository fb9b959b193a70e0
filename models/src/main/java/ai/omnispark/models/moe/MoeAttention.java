package ai.omnispark.models.moe;

import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
import ai.omnispark.models.nn.ulysses.UlyssesAttention;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.engine.SteppedSegment;
import ai.omnispark.models.nn.attention.AttentionSteps;
import java.util.List;

/**
 * The first half of a pre-norm MoE block: grouped-query self-attention with its residual
 * ({@link SelfAttentionBlock}; q/k RMSNorm for Qwen3-MoE, q/k/v bias for Qwen2-MoE). The router
 * statistics after the hidden state pass through unchanged. Under Ulysses the plan runs it as
 * {@link #ulysses}' five segments instead.
 */
final class MoeAttention implements SteppedSegment {
    private final MoeConfig config;
    private final int layer;
    private final Attention attention;

    MoeAttention(MoeConfig config, int layer, Attention attention) {
        this.config = config;
        this.layer = layer;
        this.attention = attention;
    }

    @Override
    public String name() {
        return "attn." + layer;
    }

    @Override
    public List<String> units() {
        return List.of(DecoderNames.unit(layer));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDList out = new NDList(SelfAttentionBlock.forward(call, inputs.get(0), layer, DecoderNames.layer(layer, ""),
                config.attentionSpec(), projection(call), attention));
        for (int i = 1; i < inputs.size(); i++) {
            out.add(inputs.get(i));
        }
        return out;
    }

    /** ROI recompute's candidates ({@link AttentionSteps}), the further inputs passed through. */
    @Override
    public List<Segment> steps() {
        return AttentionSteps.of(name(), units(), layer, DecoderNames.layer(layer, ""), config.attentionSpec(),
                MoeAttention::projection, attention);
    }

    /** This block's attention as Ulysses' segments over the sp group {@code sp} ({@link UlyssesAttention}). */
    List<Segment> ulysses(Communicator sp) {
        return UlyssesAttention.segments(name(), units(), layer, DecoderNames.layer(layer, ""), config.attentionSpec(),
                MoeAttention::projection, attention, sp);
    }

    private static SelfAttentionBlock.Projection projection(SegmentCall call) {
        return (x, module, bias) -> Ops.linear(x, call.param(module + ".weight"), bias);
    }
}
