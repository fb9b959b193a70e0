package ai.omnispark.parallel.comm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * Element-wise combination of two byte ranges, used by both transports on the comm thread.
 *
 * <p>Sums go through libtorch: {@code manager.create} over a direct buffer wraps it without a copy
 * (from_blob), so {@code addi} runs libtorch's vectorised kernel in place at memory bandwidth.
 * DJL has no in-place maximum, so MAX and the integer part of AVG are plain loops over typed
 * buffer views (no boxing); they are off the hot path of training.
 */
final class Reducer {
    private final NDManager manager;

    Reducer(NDManager manager) {
        this.manager = manager;
    }

    /** dst = dst op src, element-wise; both slices start at position 0 and have equal length. AVG sums. */
    void reduceInto(ByteBuffer dst, ByteBuffer src, DataType dtype, ReduceOp op) {
        int bytes = dst.remaining();
        if (bytes == 0) {
            return;
        }
        if (src.remaining() != bytes) {
            throw new IllegalStateException("reduce over " + bytes + " vs " + src.remaining() + " bytes");
        }
        if (op == ReduceOp.MAX) {
            max(dst, src, dtype);
            return;
        }
        long n = bytes / Buffers.elementBytes(dtype);
        try (NDManager scope = manager.newSubManager()) {
            NDArray d = scope.create(dst, new Shape(n), dtype);
            NDArray s = scope.create(src, new Shape(n), dtype);
            d.addi(s);
        }
    }

    /** Turns a sum into a mean over {@code ranks}; integer types truncate toward zero. */
    void divide(ByteBuffer buf, DataType dtype, int ranks) {
        int bytes = buf.remaining();
        if (bytes == 0 || ranks == 1) {
            return;
        }
        switch (dtype) {
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
                long n = bytes / Buffers.elementBytes(dtype);
                try (NDManager scope = manager.newSubManager()) {
                    scope.create(buf, new Shape(n), dtype).divi(ranks);
                }
        }
    }

    private static void max(ByteBuffer dst, ByteBuffer src, DataType dtype) {
        switch (dtype) {
            case FLOAT32: {
                FloatBuffer d = dst.asFloatBuffer();
                FloatBuffer s = src.asFloatBuffer();
                for (int i = 0, n = d.limit(); i < n; i++) {
                    d.put(i, Math.max(d.get(i), s.get(i)));
                }
                return;
            }
            case INT32: {
                IntBuffer d = dst.asIntBuffer();
                IntBuffer s = src.asIntBuffer();
                for (int i = 0, n = d.limit(); i < n; i++) {
                    d.put(i, Math.max(d.get(i), s.get(i)));
                }
                return;
            }
            case INT64: {
                LongBuffer d = dst.asLongBuffer();
                LongBuffer s = src.asLongBuffer();
                for (int i = 0, n = d.limit(); i < n; i++) {
                    d.put(i, Math.max(d.get(i), s.get(i)));
                }
                return;
            }
            case FLOAT16: {
                ShortBuffer d = dst.asShortBuffer();
                ShortBuffer s = src.asShortBuffer();
                for (int i = 0, n = d.limit(); i < n; i++) {
                    short a = d.get(i);
                    short b = s.get(i);
                    float fa = Half.toFloat(a);
                    float fb = Half.toFloat(b);
                    if (fb > fa || Float.isNaN(fb)) {
                        d.put(i, b);
                    }
                }
                return;
            }
            default:
                throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }
}
