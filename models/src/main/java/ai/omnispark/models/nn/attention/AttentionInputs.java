package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * One attention call's operands: q [B, Hq, S, D], k and v [B, Hkv, S, D] with Hq a multiple of Hkv
 * (grouped-query attention shares each k/v head among Hq/Hkv query heads). Cross-attention (a DiT's
 * video tokens to its text tokens) gives k and v their own length Sk: only bidirectional, without
 * doc ids or a dropout mask, since those are per (query, key) position pairs of one sequence.
 *
 * @param docIds [B, S] int64, the document of each position within its row: position i attends to
 *     j only when both are in the same document; null when every row is one document
 * @param causal whether i attends only to j <= i (decoders) or to every j (ViT, DiT)
 * @param dropoutMask [B, Hq, S, S] multiplied into the attention probabilities (0 or 1/(1-p),
 *     drawn on the host); null for none
 */
public record AttentionInputs(NDArray q, NDArray k, NDArray v, NDArray docIds, boolean causal, NDArray dropoutMask) {

    public AttentionInputs {
        Shape qs = q.getShape();
        Shape ks = k.getShape();
        if (qs.dimension() != 4 || ks.dimension() != 4 || !ks.equals(v.getShape())) {
            throw new IllegalArgumentException("attention wants q [B, Hq, S, D] and k, v [B, Hkv, S, D], got q " + qs
                    + ", k " + ks + ", v " + v.getShape());
        }
        if (qs.get(0) != ks.get(0) || qs.get(3) != ks.get(3)) {
            throw new IllegalArgumentException("q " + qs + " and k " + ks + " differ in batch or head_dim");
        }
        if (qs.get(2) != ks.get(2) && (causal || docIds != null || dropoutMask != null)) {
            throw new IllegalArgumentException("q " + qs + " and k " + ks + " differ in length, which only "
                    + "bidirectional attention without doc ids or a dropout mask (cross-attention) allows");
        }
        if (qs.get(1) % ks.get(1) != 0) {
            throw new IllegalArgumentException("query heads (" + qs.get(1) + ") must be a multiple of key/value heads ("
                    + ks.get(1) + ")");
        }
        if (docIds != null && (!docIds.getShape().equals(new Shape(qs.get(0), qs.get(2)))
                || docIds.getDataType() != DataType.INT64)) {
            throw new IllegalArgumentException("doc ids must be int64 [" + qs.get(0) + ", " + qs.get(2) + "], got "
                    + docIds.getDataType() + " " + docIds.getShape());
        }
        if (dropoutMask != null && !dropoutMask.getShape().equals(new Shape(qs.get(0), qs.get(1), qs.get(2), qs.get(2)))) {
            throw new IllegalArgumentException("dropout mask must be [B, Hq, S, S] = [" + qs.get(0) + ", " + qs.get(1)
                    + ", " + qs.get(2) + ", " + qs.get(2) + "], got " + dropoutMask.getShape());
        }
    }

    public long batch() {
        return q.getShape().get(0);
    }

    public long queryHeads() {
        return q.getShape().get(1);
    }

    public long kvHeads() {
        return k.getShape().get(1);
    }

    public long length() {
        return q.getShape().get(2);
    }

    /** Keys (and values) per row: {@link #length} but in cross-attention. */
    public long keyLength() {
        return k.getShape().get(2);
    }

    public long headDim() {
        return q.getShape().get(3);
    }

    /** Softmax scale 1/sqrt(head_dim). */
    public double scale() {
        return 1.0 / Math.sqrt(headDim());
    }
}
