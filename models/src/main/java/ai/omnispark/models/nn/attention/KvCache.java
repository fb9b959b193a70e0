package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;

/**
 * The key/value cache of incremental decoding, carried in the batch so the segments stay as they
 * are: a batch marked {@link #enable enabled} makes every {@link SelfAttentionBlock} attend over its
 * layer's cached keys and values (absent on the prompt's step) followed by its own, and leave that
 * concatenation in the batch for {@link #carry} to hand to the next step's batch. One row, one
 * document, no dropout: decoding only.
 */
public final class KvCache {
    /** int64 [1]: the rotary position the token after this batch takes; its presence turns caching on. */
    public static final String NEXT_POSITION = "kv_cache.next_position";
    private static final String PAST = "kv_cache.past.";
    private static final String PRESENT = "kv_cache.present.";

    private KvCache() {}

    /** Marks {@code batch} as a decoding step whose next token takes rotary position {@code nextPosition}. */
    public static void enable(Batch batch, NDManager scope, long nextPosition) {
        batch.put(NEXT_POSITION, scope.create(new long[] {nextPosition}));
    }

    public static boolean enabled(Batch batch) {
        return batch.has(NEXT_POSITION);
    }

    public static long nextPosition(Batch batch) {
        return batch.get(NEXT_POSITION).toLongArray()[0];
    }

    /**
     * Moves the keys and values {@code from} left (every layer's, after its forward) into {@code to}
     * as its past, owned by {@code scope}, so {@code from}'s scope may close.
     */
    public static void carry(Batch from, Batch to, NDManager scope) {
        for (String key : from.keys()) {
            if (key.startsWith(PRESENT)) {
                NDArray a = from.get(key);
                a.attach(scope);
                to.put(PAST + key.substring(PRESENT.length()), a);
            }
        }
    }

    /** Cached positions of {@code layer}'s keys: 0 on the prompt's step. */
    public static long pastLength(Batch batch, int layer) {
        String key = PAST + "k." + layer;
        return batch.has(key) ? batch.get(key).getShape().get(2) : 0;
    }

    /**
     * q [1, Hq, s, D] of the step's s tokens attending causally over the cached keys and values of
     * {@code layer} followed by k, v [1, Hkv, s, D]; leaves the concatenation in the batch. The
     * reference math of {@link EagerAttention} with the queries offset by the cached length.
     */
    static NDArray attend(Batch batch, int layer, NDArray q, NDArray k, NDArray v) {
        if (q.getShape().get(0) != 1) {
            throw new IllegalArgumentException("the key/value cache decodes one row at a time, got a batch of "
                    + q.getShape().get(0) + " rows");
        }
        String pk = PAST + "k." + layer;
        String pv = PAST + "v." + layer;
        if (batch.has(pk)) {
            k = NDArrays.concat(new NDList(batch.get(pk), k), 2);
            v = NDArrays.concat(new NDList(batch.get(pv), v), 2);
        }
        batch.put(PRESENT + "k." + layer, k);
        batch.put(PRESENT + "v." + layer, v);
        Shape qs = q.getShape();
        long b = qs.get(0);
        long nh = qs.get(1);
        long s = qs.get(2);
        long hd = qs.get(3);
        long nkv = k.getShape().get(1);
        long total = k.getShape().get(2);
        if (nkv != nh) {
            long group = nh / nkv;
            k = k.expandDims(2).broadcast(b, nkv, group, total, hd).reshape(b, nh, total, hd);
            v = v.expandDims(2).broadcast(b, nkv, group, total, hd).reshape(b, nh, total, hd);
        }
        NDArray scores = Ops.scale(q.matMul(k.transpose(0, 1, 3, 2)), 1.0 / Math.sqrt(hd));
        NDArray allowed = BlockMask.allowed(q.getManager(), null, true, total - s, total, 0, total);
        if (allowed != null) {
            NDArray additive = allowed.toType(scores.getDataType(), false)
                    .sub(Ops.constant(scores, 1)).mul(Ops.constant(scores, -EagerAttention.MASKED));
            scores = scores.add(additive);
        }
        return scores.softmax(-1).matMul(v);
    }
}
