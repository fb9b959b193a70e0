package ai.omnispark.models.decoder;

import ai.omnispark.models.api.CachedDecoding;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.SiluMul;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.engine.Segment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What every decoder-only model shares: its config, its rank's attention and SwiGLU kernels (which
 * {@link #close} frees), the loss chunking, and the segment chain embed, then per block
 * "attn.i" and "mlp.i", then the head. A family supplies the block's two segments and its head.
 */
public abstract class DecoderModel<C extends DecoderShape> implements Model {
    /** Token rows only: no decoder family here has a vision tower. */
    public static final Set<SampleLayout> SAMPLE_LAYOUTS = Set.of(SampleLayout.TOKENS);

    protected final C config;
    protected final Attention attention;
    /** The rank's SwiGLU activation kernel, freed by {@link #close}. */
    protected final SiluMul siluMul = new SiluMul();
    /** Tokens per chunk of the training loss's output projection; 0 = auto. */
    protected final int lossChunkTokens;

    /**
     * @param attentionBlock queries and keys per block of the chunked attention kernel
     * @param lossChunkTokens tokens per chunk of the training loss's output projection
     *     ({@code model.loss_chunk_tokens}); 0 = as many as keep a chunk's logits within
     *     {@link ai.omnispark.models.nn.LinearCrossEntropy#CHUNK_LOGIT_BYTES}
     */
    protected DecoderModel(C config, AttentionImpl attentionImpl, int attentionBlock, int lossChunkTokens) {
        if (lossChunkTokens < 0) {
            throw new IllegalArgumentException("model.loss_chunk_tokens must be >= 0 (0 = auto), got " + lossChunkTokens);
        }
        this.config = config;
        this.lossChunkTokens = lossChunkTokens;
        this.attention = new Attention(attentionImpl, attentionBlock);
    }

    /** Block {@code layer}'s attention half, segment "attn.layer". */
    protected abstract Segment attentionSegment(int layer);

    /** Block {@code layer}'s MLP half, segment "mlp.layer". */
    protected abstract Segment mlpSegment(int layer);

    /** The head: with {@code loss} its outputs are the loss terms, else the logits. */
    protected abstract Segment head(boolean loss);

    public AttentionImpl attentionImpl() {
        return attention.impl();
    }

    @Override
    public void close() {
        attention.close();
        siluMul.close();
    }

    /** The config's model_type. */
    @Override
    public String family() {
        return config.family();
    }

    /** Segments whose last outputs are the loss terms (the summed token cross-entropy first). */
    @Override
    public List<Segment> trainingSegments() {
        return segments(true);
    }

    /** Segments whose last output is the logits, [rows, seqLen, vocab]. */
    @Override
    public List<Segment> evaluationSegments() {
        return segments(false);
    }

    @Override
    public Set<SampleLayout> sampleLayouts() {
        return SAMPLE_LAYOUTS;
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    /** Decoding through the family's collator, one token per step over the cached keys and values. */
    @Override
    public CachedDecoding cachedDecoding() {
        return new TokenDecoding(collator());
    }

    private List<Segment> segments(boolean loss) {
        List<Segment> segments = new ArrayList<>();
        segments.add(new DecoderEmbed());
        for (int i = 0; i < config.numLayers(); i++) {
            segments.add(attentionSegment(i));
            segments.add(mlpSegment(i));
        }
        segments.add(head(loss));
        return segments;
    }
}
