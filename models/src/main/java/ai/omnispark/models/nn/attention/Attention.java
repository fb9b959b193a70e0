package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scaled dot-product attention for every model family: causal or bidirectional, confined to
 * documents of packed rows when doc ids are given, grouped-query heads without expanded K/V where
 * the kernel allows. One instance per rank: it owns the rank's SDPA modules.
 *
 * <p>{@link AttentionImpl#AUTO} runs SDPA, falling back to the chunked kernel if the TorchScript
 * module cannot be loaded, and the eager path when a dropout mask is given: SDPA's own dropout
 * draws from libtorch's generator, which would break what the host-drawn masks guarantee (a
 * recomputed block and a resumed run apply the same masks as the first forward).
 */
public final class Attention implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Attention.class);
    /** Query and key block of the chunked kernel: large enough for matmul efficiency, small enough to stay in cache. */
    public static final int DEFAULT_BLOCK = 256;

    private final AttentionImpl impl;
    private final int block;
    private final SdpaKernels sdpa;
    private volatile boolean sdpaUnavailable;
    private volatile boolean closed;

    public Attention(AttentionImpl impl) {
        this(impl, DEFAULT_BLOCK);
    }

    public Attention(AttentionImpl impl, int block) {
        this(impl, block, new SdpaKernels());
    }

    Attention(AttentionImpl impl, int block, SdpaKernels sdpa) {
        this.sdpa = sdpa;
        if (block <= 0) {
            throw new IllegalArgumentException("attention block size must be > 0, got " + block);
        }
        this.impl = impl;
        this.block = block;
    }

    public AttentionImpl impl() {
        return impl;
    }

    /** [B, Hq, S, D]: each query's softmax(q k^T / sqrt(D))-weighted sum of v over the keys it may see. */
    public NDArray attend(AttentionInputs in) {
        if (closed) {
            throw new IllegalStateException("attention was closed with its model");
        }
        switch (impl) {
            case EAGER:
                return EagerAttention.attend(in);
            case CHUNKED:
                requireNoDropout(in);
                return ChunkedAttention.attend(in, block);
            case SDPA:
                requireNoDropout(in);
                return sdpa.attend(in);
            case AUTO:
            default:
                if (in.dropoutMask() != null) {
                    return EagerAttention.attend(in);
                }
                if (!sdpaUnavailable) {
                    try {
                        sdpa.load(in);
                    } catch (RuntimeException e) {
                        // Only a module that cannot be generated or loaded is a reason to fall
                        // back; an error while one runs is the caller's to see.
                        sdpaUnavailable = true;
                        LOG.warn("SDPA attention unavailable, using the chunked kernel", e);
                    }
                }
                return sdpaUnavailable ? ChunkedAttention.attend(in, block) : sdpa.attend(in);
        }
    }

    private void requireNoDropout(AttentionInputs in) {
        if (in.dropoutMask() != null) {
            throw new IllegalArgumentException("model.attention_impl " + impl.key()
                    + " does not apply attention dropout masks; use auto or eager with attention_dropout > 0");
        }
    }

    @Override
    public void close() {
        closed = true;
        sdpa.close();
    }
}
