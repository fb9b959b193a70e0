package ai.omnispark.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.parallel.runtime.Autograd;

/**
 * A linear output projection followed by token cross-entropy, computed a chunk of tokens at a time
 * so that the [tokens x vocab] logits never exist whole, in forward or backward (what fused
 * linear-cross-entropy kernels do).
 *
 * <p>DJL has no custom autograd functions, so when gradients are recorded the gradients of the
 * log-sum-exp part are computed during the forward, chunk by chunk ({@code dH = P W},
 * {@code dW = P^T H} with P the masked softmax), and handed to autograd through a term whose value
 * is exactly zero and whose gradient is theirs: {@code S - stopGradient(S)} with
 * {@code S = <H, dH> + <W, dW> - sum_i mask_i <h_i, W[label_i]>}. The target-logit part stays an
 * ordinary recorded expression (an embedding lookup of the label rows), so libtorch scatters its
 * weight gradient. Computing the gradient in forward costs three matmuls per chunk instead of the
 * four that keeping only the log-sum-exp and recomputing the logits in backward would; the price is
 * holding dH ([tokens x hidden]) and dW ([vocab x hidden]) until backward. Evaluation (grad mode
 * off) does only the forward matmul.
 *
 * <p>The value returned is the plain chunked sum of {@code mask_i * (lse_i - logit_i[label_i])},
 * the same arithmetic as a log-softmax and gather over the full logits, in the input's dtype.
 */
public final class LinearCrossEntropy {
    /**
     * Auto chunking keeps one chunk's logits within this many bytes; a chunk holds about twice that
     * at its peak (logits and softmax). Smaller chunks cost time: each adds a [vocab x hidden]
     * weight-gradient product to accumulate and a thinner matmul. At Qwen3's vocabulary, hidden
     * 64, 2048 tokens, one thread (docs/performance.md), 64 MiB chunks (110 tokens) took 1-4% more
     * CPU time than the materialised head, 256 MiB chunks (441 tokens) 11-17% less.
     */
    public static final long CHUNK_LOGIT_BYTES = 256L << 20;

    private LinearCrossEntropy() {}

    /**
     * Tokens per chunk: {@code requested} when positive, else as many as keep a chunk's logits within
     * {@link #CHUNK_LOGIT_BYTES} (at least one).
     */
    public static int chunkTokens(int requested, long vocab, int bytesPerElement) {
        if (requested < 0) {
            throw new IllegalArgumentException("loss chunk tokens must be >= 0 (0 = auto), got " + requested);
        }
        if (requested > 0) {
            return requested;
        }
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, CHUNK_LOGIT_BYTES / (vocab * bytesPerElement)));
    }

    /**
     * {@code sum_i mask_i * CE(hidden_i W^T, labels_i)}, a 0-dim array owned by {@code scope}.
     *
     * @param hidden [tokens, hidden]; under grad mode, recorded (it gets a gradient)
     * @param weight [vocab, hidden]; likewise
     * @param labels [tokens] int64, each in [0, vocab) (ignored positions hold any valid id)
     * @param mask [tokens] in hidden's dtype: 1 where the label counts, 0 where it is ignored
     * @param chunkTokens tokens per chunk, > 0
     */
    public static NDArray sum(NDManager scope, NDArray hidden, NDArray weight, NDArray labels, NDArray mask,
            int chunkTokens) {
        return sum(scope, hidden, weight, labels, mask, chunkTokens, true);
    }

    /**
     * As {@link #sum(NDManager, NDArray, NDArray, NDArray, NDArray, int)}; with {@code weightTakesGradient}
     * false (a frozen head, as under LoRA) the [vocab x hidden] weight gradient, one more matmul per
     * chunk as large as the logits', is not computed: the caller passes a weight autograd does not
     * differentiate, and the value and the hidden gradient are the same.
     */
    public static NDArray sum(NDManager scope, NDArray hidden, NDArray weight, NDArray labels, NDArray mask,
            int chunkTokens, boolean weightTakesGradient) {
        Shape hs = hidden.getShape();
        Shape ws = weight.getShape();
        if (hs.dimension() != 2 || ws.dimension() != 2 || hs.get(1) != ws.get(1)) {
            throw new IllegalArgumentException("hidden " + hs + " and weight " + ws
                    + " must be [tokens, hidden] and [vocab, hidden]");
        }
        long tokens = hs.get(0);
        if (!labels.getShape().equals(new Shape(tokens)) || !mask.getShape().equals(new Shape(tokens))) {
            throw new IllegalArgumentException("labels " + labels.getShape() + " and mask " + mask.getShape()
                    + " must be [tokens] = (" + tokens + ")");
        }
        if (chunkTokens <= 0) {
            throw new IllegalArgumentException("chunk tokens must be > 0, got " + chunkTokens);
        }
        // Whether hidden and weight require gradients cannot be asked: DJL 0.33's requiresGrad
        // answered false, while recording, for a norm's output and for a view of a unit's flat
        // tensor (both do get gradients). Under grad mode both are assumed to; the engine only
        // records segments whose inputs and parameters take gradients.
        boolean recording = Autograd.isGradMode();
        NDArray total = scope.zeros(new Shape(), hidden.getDataType());
        NDArray dHidden = recording ? scope.zeros(hs, hidden.getDataType()) : null;
        NDArray dWeight = recording && weightTakesGradient ? scope.zeros(ws, weight.getDataType()) : null;
        Autograd.setGradMode(false);
        try {
            for (long start = 0; start < tokens; start += chunkTokens) {
                long end = Math.min(tokens, start + chunkTokens);
                NDIndex rows = new NDIndex("{}:{}", start, end);
                try (NDManager chunk = scope.newSubManager()) {
                    // Every array below derives from these views, so it belongs to `chunk` and is
                    // freed when the chunk ends: at most two [chunk x vocab] arrays live at once.
                    NDArray h = hidden.get(chunk, rows);
                    NDArray target = labels.get(chunk, rows).reshape(-1, 1);
                    NDArray m = mask.get(chunk, rows).reshape(-1, 1);
                    NDArray shifted = Ops.linear(h, weight, null);
                    shifted.subi(shifted.max(new int[] {1}, true));
                    NDArray p = shifted.exp();
                    NDArray sumExp = p.sum(new int[] {1}, true);
                    total.addi(sumExp.log().sub(shifted.gather(target, 1)).mul(m).sum());
                    shifted.close();
                    if (recording) {
                        p.muli(m.div(sumExp)); // the softmax, zero on ignored positions
                        dHidden.set(rows, p.matMul(weight));
                        if (dWeight != null) {
                            dWeight.addi(p.transpose().matMul(h));
                        }
                    }
                }
            }
        } finally {
            Autograd.setGradMode(recording);
        }
        if (!recording) {
            return total;
        }
        NDArray surrogate = hidden.reshape(-1).dot(dHidden.reshape(-1));
        if (dWeight != null) {
            surrogate = surrogate.add(weight.reshape(-1).dot(dWeight.reshape(-1)));
        }
        surrogate = surrogate.sub(targetLogitSum(hidden, weight, labels, mask));
        // (S - S) is exactly 0 and adding it leaves the chunked value untouched; its gradient is S's.
        NDArray loss = surrogate.sub(surrogate.stopGradient()).add(total);
        loss.attach(scope);
        return loss;
    }

    /** {@code sum_i mask_i <h_i, W[label_i]>}, recorded: libtorch's embedding backward scatters into W. */
    private static NDArray targetLogitSum(NDArray hidden, NDArray weight, NDArray labels, NDArray mask) {
        try (NDArray rows = JniUtils.embedding((PtNDArray) labels, (PtNDArray) weight, false);
                NDArray products = rows.mul(hidden)) {
            return products.sum(new int[] {1}).dot(mask);
        }
    }
}
