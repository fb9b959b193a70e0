package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * Element-wise combination of two byte ranges, on the comm thread of both transports.
 *
 * <p>Plain Java rather than libtorch on purpose: libtorch's adds run on its OpenMP pool, and
 * OpenMP teams started from several comm threads (one per rank in a JVM) spin-wait on the cores
 * that the sockets and the training compute need; on a 2-core machine that tripled all-reduce
 * time. Here data is pulled from the direct buffers into small arrays with bulk copies (memcpy
 * speed), combined in loops that C2 vectorises, and written back; tiles stay in cache.
 * Each instance owns its tiles, so it must stay on one thread.
 */
final class Reducer {
    private static final int TILE = 8192;

    private final float[] fa = new float[TILE];
    private final float[] fb = new float[TILE];
    private final int[] ia = new int[TILE];
    private final int[] ib = new int[TILE];
    private final long[] la = new long[TILE];
    private final long[] lb = new long[TILE];
    private final short[] sb = new short[TILE];

    /** dst = dst op src element-wise (AVG sums); both start at position 0 and have equal length. */
    void reduceInto(ByteBuffer dst, ByteBuffer src, DataType dtype, ReduceOp op) {
        combine(dst, new ByteBuffer[] {dst, src}, dtype, op);
    }

    /**
     * dst = srcs[0] op srcs[1] op ... element-wise (AVG sums), one pass per tile: each source is
     * read once and dst written once, rather than n-1 read-modify-write passes over dst. dst may
     * be one of the sources; all start at position 0 and have equal length.
     */
    void combine(ByteBuffer dst, ByteBuffer[] srcs, DataType dtype, ReduceOp op) {
        for (ByteBuffer src : srcs) {
            if (src.remaining() != dst.remaining()) {
                throw new IllegalStateException("reduce over " + dst.remaining() + " vs "
                        + src.remaining() + " bytes");
            }
        }
        boolean max = op == ReduceOp.MAX;
        int n = srcs.length;
        switch (dtype) {
            case FLOAT32: {
                FloatBuffer[] in = new FloatBuffer[n];
                for (int i = 0; i < n; i++) {
                    in[i] = srcs[i].asFloatBuffer();
                }
                floats(dst.asFloatBuffer(), in, max);
                return;
            }
            case INT32: {
                IntBuffer[] in = new IntBuffer[n];
                for (int i = 0; i < n; i++) {
                    in[i] = srcs[i].asIntBuffer();
                }
                ints(dst.asIntBuffer(), in, max);
                return;
            }
            case INT64: {
                LongBuffer[] in = new LongBuffer[n];
                for (int i = 0; i < n; i++) {
                    in[i] = srcs[i].asLongBuffer();
                }
                longs(dst.asLongBuffer(), in, max);
                return;
            }
            case FLOAT16: {
                ShortBuffer[] in = new ShortBuffer[n];
                for (int i = 0; i < n; i++) {
                    in[i] = srcs[i].asShortBuffer();
                }
                halves(dst.asShortBuffer(), in, max);
                return;
            }
            default:
                throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }

    /** Turns a sum into a mean over {@code ranks}; integer types truncate toward zero. */
    void divide(ByteBuffer buf, DataType dtype, int ranks) {
        if (ranks == 1) {
            return;
        }
        switch (dtype) {
            case FLOAT32: {
                FloatBuffer b = buf.asFloatBuffer();
                for (int i = 0, n = b.limit(); i < n; i++) {
                    b.put(i, b.get(i) / ranks);
                }
                return;
            }
            case FLOAT16: {
                ShortBuffer b = buf.asShortBuffer();
                for (int i = 0, n = b.limit(); i < n; i++) {
                    b.put(i, Half.fromFloat(Half.toFloat(b.get(i)) / ranks));
                }
                return;
            }
            case INT32: {
                IntBuffer b = buf.asIntBuffer();
                for (int i = 0, n = b.limit(); i < n; i++) {
                    b.put(i, b.get(i) / ranks);
                }
                return;
            }
            case INT64: {
                LongBuffer b = buf.asLongBuffer();
                for (int i = 0, n = b.limit(); i < n; i++) {
                    b.put(i, b.get(i) / ranks);
                }
                return;
            }
            default:
                throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }

    private void floats(FloatBuffer d, FloatBuffer[] s, boolean max) {
        float[] a = fa;
        float[] b = fb;
        for (int off = 0, n = d.limit(); off < n; off += TILE) {
            int len = Math.min(TILE, n - off);
            s[0].get(off, a, 0, len);
            for (int k = 1; k < s.length; k++) {
                s[k].get(off, b, 0, len);
                if (max) {
                    for (int i = 0; i < len; i++) {
                        a[i] = Math.max(a[i], b[i]);
                    }
                } else {
                    for (int i = 0; i < len; i++) {
                        a[i] += b[i];
                    }
                }
            }
            d.put(off, a, 0, len);
        }
    }

    private void ints(IntBuffer d, IntBuffer[] s, boolean max) {
        int[] a = ia;
        int[] b = ib;
        for (int off = 0, n = d.limit(); off < n; off += TILE) {
            int len = Math.min(TILE, n - off);
            s[0].get(off, a, 0, len);
            for (int k = 1; k < s.length; k++) {
                s[k].get(off, b, 0, len);
                if (max) {
                    for (int i = 0; i < len; i++) {
                        a[i] = Math.max(a[i], b[i]);
                    }
                } else {
                    for (int i = 0; i < len; i++) {
                        a[i] += b[i];
                    }
                }
            }
            d.put(off, a, 0, len);
        }
    }

    private void longs(LongBuffer d, LongBuffer[] s, boolean max) {
        long[] a = la;
        long[] b = lb;
        for (int off = 0, n = d.limit(); off < n; off += TILE) {
            int len = Math.min(TILE, n - off);
            s[0].get(off, a, 0, len);
            for (int k = 1; k < s.length; k++) {
                s[k].get(off, b, 0, len);
                if (max) {
                    for (int i = 0; i < len; i++) {
                        a[i] = Math.max(a[i], b[i]);
                    }
                } else {
                    for (int i = 0; i < len; i++) {
                        a[i] += b[i];
                    }
                }
            }
            d.put(off, a, 0, len);
        }
    }

    /**
     * Half precision is accumulated in float over all sources and rounded once, so a multi-input
     * combine is at least as accurate as libtorch's pairwise half adds.
     */
    private void halves(ShortBuffer d, ShortBuffer[] s, boolean max) {
        float[] a = fa;
        short[] b = sb;
        for (int off = 0, n = d.limit(); off < n; off += TILE) {
            int len = Math.min(TILE, n - off);
            s[0].get(off, b, 0, len);
            for (int i = 0; i < len; i++) {
                a[i] = Half.toFloat(b[i]);
            }
            for (int k = 1; k < s.length; k++) {
                s[k].get(off, b, 0, len);
                for (int i = 0; i < len; i++) {
                    float y = Half.toFloat(b[i]);
                    if (!max) {
                        a[i] += y;
                    } else if (y > a[i] || Float.isNaN(y)) {
                        a[i] = y;
                    }
                }
            }
            for (int i = 0; i < len; i++) {
                b[i] = Half.fromFloat(a[i]);
            }
            d.put(off, b, 0, len);
        }
    }
}
