package ai.omnispark.models.llm;

import ai.djl.ndarray.NDList;
import ai.omnispark.models.decoder.DecoderNames;
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
 * The first half of a pre-norm transformer block: grouped-query self-attention with its residual
 * ({@link SelfAttentionBlock}), its linears through the block's LoRA adapters when it has them.
 * A segment of its own so that a plan can put communication (an all-to-all) between attention and
 * MLP; it reads the block's unit, which {@link MlpSegment} reads next. Under Ulysses the plan runs
 * it as {@link #ulysses}' five segments instead.
 */
final class AttentionSegment implements SteppedSegment {
    private final DecoderConfig config;
    private final int layer;
    private final Attention attention;
    private final DecoderLora lora;

    AttentionSegment(DecoderConfig config, int layer, Attention attention, DecoderLora lora) {
        this.config = config;
        this.layer = layer;
        this.attention = attention;
        this.lora = lora;
    }

    @Override
    public String name() {
        return "attn." + layer;
    }

    @Override
    public List<String> units() {
        return lora.units(layer);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        return new NDList(SelfAttentionBlock.forward(call, inputs.singletonOrThrow(), layer, DecoderNames.layer(layer, ""),
                config.attentionSpec(), projection(call), attention));
    }

    /** Training only (no KV cache): ROI recompute's candidates ({@link AttentionSteps}). */
    @Override
    public List<Segment> steps() {
        return AttentionSteps.of(name(), units(), layer, DecoderNames.layer(layer, ""), config.attentionSpec(),
                this::projection, attention);
    }

    /** This block's attention as Ulysses' segments over the sp group {@code sp} ({@link UlyssesAttention}). */
    List<Segment> ulysses(Communicator sp) {
        return UlyssesAttention.segments(name(), units(), layer, DecoderNames.layer(layer, ""), config.attentionSpec(),
                this::projection, attention, sp);
    }

    private SelfAttentionBlock.Projection projection(SegmentCall call) {
        return (x, module, bias) -> lora.linear(call, x, module, bias);
    }
}
