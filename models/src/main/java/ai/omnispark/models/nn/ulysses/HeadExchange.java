package ai.omnispark.models.nn.ulysses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.runtime.TensorMemory;

/**
 * Ulysses' all-to-all between the sequence-sharded and the head-sharded layout of attention
 * operands, over the ranks of one sp group (group rank r holds tokens chunk r of every row and,
 * after the exchange, head chunk r of every token):
 *
 * <pre>
 *   {@link #toHeads}:  [rows, H, S/P, D] on each rank  ->  [rows, H/P, S, D]
 *   {@link #toTokens}: [rows, H/P, S, D] on each rank  ->  [rows, H, S/P, D]
 * </pre>
 *
 * Each is the other's inverse and so the other's backward (the exchange only moves elements).
 * Several operands (q, k and v) travel in one all-to-all: their head chunks for one peer are
 * concatenated along the head axis, so a call costs one exchange whatever the number of operands.
 */
public final class HeadExchange {
    private HeadExchange() {}

    /**
     * Sequence-sharded to head-sharded: from [rows, H_i, S/P, D] (this rank's tokens, every head) to
     * [rows, H_i/P, S, D] (every token, this rank's heads), for each operand i.
     */
    public static NDList toHeads(NDManager scope, NDList operands, Communicator sp) {
        int p = sp.size();
        Shape first = operands.get(0).getShape();
        long rows = first.get(0);
        long tokens = first.get(2);
        long d = first.get(3);
        long[] heads = heads(operands, p, rows, tokens, d, "toHeads");
        long chunk = chunkHeads(heads, p);
        // [rows, P, H_i/P, S/P, D] per operand -> concatenated heads -> [P, rows, chunk, S/P, D]
        NDList parts = new NDList();
        for (int i = 0; i < operands.size(); i++) {
            parts.add(operands.get(i).reshape(rows, p, heads[i] / p, tokens, d));
        }
        NDArray joined = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 2);
        NDArray send = joined.transpose(1, 0, 2, 3, 4);
        NDArray raw = exchange(scope, send, sp);
        NDArray received = raw.reshape(p, rows, chunk, tokens, d);
        // from peer j: its tokens chunk j of this rank's heads -> [rows, chunk, P * S/P, D]
        NDArray all = received.transpose(1, 2, 0, 3, 4).reshape(rows, chunk, p * tokens, d);
        if (p > 1) {
            close(parts, parts.size() == 1 ? null : joined, send, raw, received);
        }
        return split(all, heads, p);
    }

    /** Head-sharded to sequence-sharded: the inverse of {@link #toHeads}, operand by operand. */
    public static NDList toTokens(NDManager scope, NDList operands, Communicator sp) {
        int p = sp.size();
        Shape first = operands.get(0).getShape();
        long rows = first.get(0);
        long length = first.get(2);
        long d = first.get(3);
        if (length % p != 0) {
            throw new IllegalArgumentException("toTokens: sequence length " + length + " is not a multiple of the "
                    + p + " sp ranks");
        }
        long tokens = length / p;
        long[] local = new long[operands.size()];
        for (int i = 0; i < operands.size(); i++) {
            Shape s = operands.get(i).getShape();
            if (s.dimension() != 4 || s.get(0) != rows || s.get(2) != length || s.get(3) != d) {
                throw new IllegalArgumentException("toTokens: operand " + i + " is " + s + ", expected [" + rows
                        + ", heads, " + length + ", " + d + "]");
            }
            local[i] = s.get(1);
        }
        long chunk = 0;
        for (long h : local) {
            chunk += h;
        }
        // [rows, chunk, P, S/P, D] -> [P, rows, chunk, S/P, D]: tokens chunk j goes to peer j
        NDList parts = new NDList();
        for (NDArray a : operands) {
            parts.add(a);
        }
        NDArray joined = parts.size() == 1 ? null : NDArrays.concat(parts, 1);
        NDArray byPeer = (joined == null ? parts.get(0) : joined).reshape(rows, chunk, p, tokens, d);
        NDArray send = byPeer.transpose(2, 0, 1, 3, 4);
        NDArray raw = exchange(scope, send, sp);
        NDArray received = raw.reshape(p, rows, chunk, tokens, d);
        // from peer j: head chunk j of this rank's tokens -> operand i's heads of every chunk, in chunk order
        NDList out = new NDList();
        NDList slices = new NDList();
        long offset = 0;
        for (long h : local) {
            NDArray part = received.get(":, :, {}:{}", offset, offset + h);
            slices.add(part);
            out.add(part.transpose(1, 0, 2, 3, 4).reshape(rows, p * h, tokens, d));
            offset += h;
        }
        if (p > 1) {
            slices.add(byPeer);
            close(slices, joined, send, raw, received);
        }
        return out;
    }

    /** H_i of each operand, checked: 4 dims, same rows, tokens and head_dim, H_i a multiple of P. */
    private static long[] heads(NDList operands, int p, long rows, long tokens, long d, String op) {
        long[] heads = new long[operands.size()];
        for (int i = 0; i < operands.size(); i++) {
            Shape s = operands.get(i).getShape();
            if (s.dimension() != 4 || s.get(0) != rows || s.get(2) != tokens || s.get(3) != d) {
                throw new IllegalArgumentException(op + ": operand " + i + " is " + s + ", expected [" + rows
                        + ", heads, " + tokens + ", " + d + "]");
            }
            if (s.get(1) % p != 0) {
                throw new IllegalArgumentException(op + ": operand " + i + " has " + s.get(1) + " heads, not a multiple"
                        + " of the " + p + " sp ranks");
            }
            heads[i] = s.get(1);
        }
        return heads;
    }

    private static long chunkHeads(long[] heads, int p) {
        long chunk = 0;
        for (long h : heads) {
            chunk += h / p;
        }
        return chunk;
    }

    /** Operand i's heads [.., offset_i, offset_i + H_i/P) of the concatenated chunk. */
    private static NDList split(NDArray all, long[] heads, int p) {
        NDList out = new NDList();
        long offset = 0;
        for (long h : heads) {
            out.add(all.get(":, {}:{}", offset, offset + h / p));
            offset += h / p;
        }
        return out;
    }

    /**
     * Closes the exchange's own handles once the results are built: the call's manager lives until
     * the backward, and these (the send copy, the receive buffer) are as large as the operands. Only
     * handles this class made are closed, never the caller's operands; a result that is a view of
     * one keeps its memory (libtorch counts the references), so closing is always safe.
     */
    private static void close(NDList views, NDArray... buffers) {
        for (NDArray a : views) {
            a.close();
        }
        for (NDArray a : buffers) {
            if (a != null) {
                a.close();
            }
        }
    }

    /** The equal-split all-to-all of {@code send} (its first axis is the peer), into a fresh tensor. */
    private static NDArray exchange(NDManager scope, NDArray send, Communicator sp) {
        NDArray flat = send.reshape(-1);
        if (sp.size() == 1) {
            return flat;
        }
        if (!TensorMemory.isContiguous(flat)) {
            // reshape copies a strided permutation into a fresh contiguous tensor; a 1-D view of one
            // has stride 1. Anything else is a bug here, not something to send garbage for.
            throw new IllegalStateException("the Ulysses send buffer of shape " + send.getShape() + " is not contiguous");
        }
        NDArray received = scope.create(flat.getShape(), flat.getDataType());
        sp.allToAll(flat, received).await();
        flat.close();
        return received;
    }
}
