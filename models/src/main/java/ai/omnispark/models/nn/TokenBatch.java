package ai.omnispark.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * Turns packed rows (flattened row-major int arrays) into the side inputs of a decoder's segments:
 * token ids, labels and their mask, the document ids that keep attention inside a document, and the
 * rotary tables. Shared by the decoder families (dense and mixture-of-experts), which pass their
 * shape as plain numbers.
 */
public final class TokenBatch {
    public static final int IGNORE = Sample.IGNORE;
    public static final String INPUT_IDS = "input_ids";
    public static final String LABELS = "labels";
    public static final String LABEL_MASK = "label_mask";
    /** [rows, seqLen] int64 document per position; absent when every row is a single document. */
    public static final String DOC_IDS = "doc_ids";
    public static final String COS = "rope_cos";
    public static final String SIN = "rope_sin";
    private static final String ATTENTION_DROPOUT = "attention_dropout.";

    private TokenBatch() {}

    /**
     * @param docIds per position, the document it belongs to within its row; -1 on padding.
     *     Position i attends to j iff j <= i and both are in the same document. The mask itself is
     *     computed by the attention kernel from these ids, block by block or inside SDPA.
     */
    public static Batch build(NDManager scope, int vocabSize, int headDim, double ropeTheta, DataType dtype,
            int rows, int seqLen, int[] inputIds, int[] labels, int[] positionIds, int[] docIds) {
        check("position_ids", positionIds, rows * seqLen);
        Batch batch = tokens(scope, vocabSize, dtype, rows, seqLen, inputIds, labels, docIds);
        NDArray[] rope = rope(scope, headDim, ropeTheta, dtype, rows, seqLen, positionIds);
        batch.put(COS, rope[0]);
        batch.put(SIN, rope[1]);
        return batch;
    }

    /**
     * {@link #build} without the rotary tables: ids, labels, label mask and doc ids, for a family
     * whose positions are not 1-D (the vision-language family adds its own tables under
     * {@link #COS} and {@link #SIN}).
     */
    public static Batch tokens(NDManager scope, int vocabSize, DataType dtype, int rows, int seqLen, int[] inputIds,
            int[] labels, int[] docIds) {
        int n = rows * seqLen;
        check("input_ids", inputIds, n);
        check("labels", labels, n);
        check("doc_ids", docIds, n);
        long[] ids = new long[n];
        long[] targets = new long[n];
        float[] labelMask = new float[n];
        for (int i = 0; i < n; i++) {
            if (inputIds[i] < 0 || inputIds[i] >= vocabSize) {
                throw new IllegalArgumentException("token id " + inputIds[i] + " at position " + i
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
            ids[i] = inputIds[i];
            if (labels[i] != IGNORE) {
                if (labels[i] < 0 || labels[i] >= vocabSize) {
                    throw new IllegalArgumentException("label " + labels[i] + " at position " + i
                            + " is outside the vocabulary and is not " + IGNORE);
                }
                targets[i] = labels[i];
                labelMask[i] = 1f;
            }
        }
        Batch batch = new Batch();
        // Owned copies: autograd saves some batch tensors (the embedding's ids, the labels'
        // gather, the mask's mul), so they must not live in GC-managed Java buffers.
        batch.put(INPUT_IDS, Ops.owned(scope.create(ids, new Shape(rows, seqLen)), DataType.INT64));
        batch.put(LABELS, Ops.owned(scope.create(targets), DataType.INT64));
        batch.put(LABEL_MASK, Ops.owned(scope.create(labelMask), dtype));
        if (!singleDocumentRows(docIds, rows, seqLen)) {
            long[] docs = new long[n];
            for (int i = 0; i < n; i++) {
                docs[i] = docIds[i];
            }
            // Owned: the chunked kernel's where() saves the mask built from these.
            batch.put(DOC_IDS, Ops.owned(scope.create(docs, new Shape(rows, seqLen)), DataType.INT64));
        }
        return batch;
    }

    /** The batch key of layer {@code layer}'s attention-dropout mask. */
    public static String attentionDropoutMask(int layer) {
        return ATTENTION_DROPOUT + layer;
    }

    /** Whether {@code key} is a layer's attention-dropout mask ({@link #attentionDropoutMask}). */
    public static boolean isAttentionDropoutMask(String key) {
        return key.startsWith(ATTENTION_DROPOUT);
    }

    /**
     * Adds a training step's attention-dropout masks (the model's {@code attention_dropout} p):
     * per layer and (row, head, query, key), 0 with probability p, else 1/(1-p), drawn from the
     * rank's generator. The masks ride on the batch rather than being drawn inside the block, so a
     * recomputed block applies the same mask as its first forward, and a resumed run that restores
     * the generator draws the same masks as the uninterrupted one. Drawn on the host, one number
     * per attention score: fine for the small models it is used with today, too slow for large ones.
     */
    public static void addAttentionDropout(Batch batch, NDManager scope, double p, int heads, int layers,
            DataType dtype, int rows, int seqLen, RankRandom random) {
        if (p == 0) {
            return;
        }
        float keep = (float) (1.0 / (1.0 - p));
        long size = (long) rows * heads * seqLen * seqLen;
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("attention_dropout masks of " + size + " scores per layer do not fit "
                    + "one array; use a smaller micro-batch or sequence length");
        }
        for (int layer = 0; layer < layers; layer++) {
            float[] mask = new float[(int) size];
            for (int i = 0; i < mask.length; i++) {
                mask[i] = random.nextDouble() < p ? 0f : keep;
            }
            // Owned: the block's mul saves the mask for backward.
            batch.put(attentionDropoutMask(layer),
                    Ops.owned(scope.create(mask, new Shape(rows, heads, seqLen, seqLen)), dtype));
        }
    }

    /**
     * The columns of packed token rows of equal length, flattened row-major:
     * {input_ids, labels, position_ids, doc_ids}.
     */
    public static int[][] columns(List<Sample> samples) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("a micro-batch needs at least one sample");
        }
        int seqLen = samples.get(0).length();
        int n = samples.size() * seqLen;
        int[][] columns = new int[4][n];
        String[] names = {Sample.INPUT_IDS, Sample.LABELS, Sample.POSITION_IDS, Sample.DOC_IDS};
        for (int r = 0; r < samples.size(); r++) {
            Sample row = samples.get(r);
            if (row.length() != seqLen) {
                throw new IllegalStateException("rows of one micro-batch differ in length: " + seqLen + " and " + row.length());
            }
            for (int c = 0; c < names.length; c++) {
                System.arraycopy(row.ints(names[c]), 0, columns[c], r * seqLen, seqLen);
            }
        }
        return columns;
    }

    /** Number of positions whose label is not ignored. */
    public static long lossTokens(int[] labels) {
        long count = 0;
        for (int l : labels) {
            if (l != IGNORE) {
                count++;
            }
        }
        return count;
    }

    private static void check(String name, int[] array, int expected) {
        if (array.length != expected) {
            throw new IllegalArgumentException(name + " has " + array.length + " entries, expected " + expected);
        }
    }

    /** Whether each row holds one document and no padding: then causal attention needs no mask. */
    private static boolean singleDocumentRows(int[] docIds, int rows, int seqLen) {
        for (int r = 0; r < rows; r++) {
            for (int i = 1; i < seqLen; i++) {
                if (docIds[r * seqLen + i] != docIds[r * seqLen]) {
                    return false;
                }
            }
        }
        return true;
    }

    private static NDArray[] rope(NDManager scope, int hd, double ropeTheta, DataType dtype, int rows, int seqLen,
            int[] positionIds) {
        int half = hd / 2;
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = 1.0 / Math.pow(ropeTheta, (2.0 * i) / hd);
        }
        int n = rows * seqLen;
        double[] cos = new double[n * hd];
        double[] sin = new double[n * hd];
        for (int p = 0; p < n; p++) {
            for (int i = 0; i < half; i++) {
                double angle = positionIds[p] * invFreq[i];
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                cos[p * hd + i] = c;
                cos[p * hd + half + i] = c;
                sin[p * hd + i] = s;
                sin[p * hd + half + i] = s;
            }
        }
        Shape shape = new Shape(rows, 1, seqLen, hd);
        return new NDArray[] {
            Ops.owned(scope.create(cos, shape), dtype), Ops.owned(scope.create(sin, shape), dtype)};
    }
}
