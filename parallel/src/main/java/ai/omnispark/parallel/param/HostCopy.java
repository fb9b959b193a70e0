package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.omnispark.parallel.runtime.TensorMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Copies between flat tensors and Java float arrays, a bounded part at a time. DJL sizes buffers
 * in {@code int} bytes, so one transfer of a tensor over 2 GiB (2^29 floats) fails; parts of
 * {@link #CHUNK} elements keep every transfer far below that, whatever the tensor's size.
 */
public final class HostCopy {
    /** Elements per transfer: 64 MiB of fp32. */
    public static final int CHUNK = 1 << 24;

    private HostCopy() {}

    /**
     * The first {@code length} elements of a flat float32 tensor. On CPU each part is read through
     * a view of the tensor's own memory (one copy; DJL's {@code toFloatArray} copies twice), which
     * is what keeps an async checkpoint's snapshot short.
     */
    public static float[] floats(NDArray array, int length) {
        float[] out = new float[length];
        read(array, 0, out, 0, length);
        return out;
    }

    /** Copies elements {@code [from, from + length)} of a flat float32 tensor into {@code out[at, at + length)}. */
    public static void read(NDArray array, long from, float[] out, int at, int length) {
        if (array.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 tensor, got " + array.getDataType());
        }
        if (length < 0 || from < 0 || from + length > array.size() || at < 0 || at + length > out.length) {
            throw new IllegalArgumentException("cannot copy " + length + " elements from " + from + " of a tensor of "
                    + array.size() + " into " + at + " of " + out.length);
        }
        for (int done = 0; done < length; ) {
            int n = Math.min(CHUNK, length - done);
            try (NDArray part = array.get(new NDIndex("{}:{}", from + done, from + done + n))) {
                ByteBuffer view = cpuView(part);
                if (view != null) {
                    view.order(ByteOrder.nativeOrder()).asFloatBuffer().get(out, at + done, n);
                } else {
                    System.arraycopy(part.toFloatArray(), 0, out, at + done, n);
                }
            }
            done += n;
        }
    }

    /**
     * Writes {@code values[from, from + length)} into elements {@code [at, at + length)} of a flat
     * tensor of any floating dtype (converted from fp32 where it is not fp32).
     */
    public static void write(float[] values, int from, int length, NDArray array, long at) {
        if (length < 0 || from < 0 || from + length > values.length || at < 0 || at + length > array.size()) {
            throw new IllegalArgumentException("cannot copy " + length + " elements from " + from + " of " + values.length
                    + " into " + at + " of a tensor of " + array.size());
        }
        for (int done = 0; done < length; ) {
            int n = Math.min(CHUNK, length - done);
            NDIndex range = new NDIndex("{}:{}", at + done, at + done + n);
            ByteBuffer view = null;
            if (array.getDataType() == DataType.FLOAT32) {
                try (NDArray part = array.get(range)) {
                    view = cpuView(part);
                    if (view != null) {
                        view.order(ByteOrder.nativeOrder()).asFloatBuffer().put(values, from + done, n);
                    }
                }
            }
            if (view == null) {
                try (NDManager tmp = array.getManager().newSubManager()) {
                    NDArray part = tmp.create(FloatBuffer.wrap(values, from + done, n), new Shape(n));
                    array.set(range, part.toType(array.getDataType(), false));
                }
            }
            done += n;
        }
    }

    /**
     * Sets elements {@code [begin, end)} of a flat tensor to {@code value}. The value tensor lives in
     * a temporary manager: DJL's {@code set(index, Number)} would leave a scalar attached to the
     * tensor's manager for as long as it lives.
     */
    public static void fill(NDArray array, long begin, long end, float value) {
        if (begin >= end) {
            return;
        }
        try (NDManager tmp = array.getManager().newSubManager()) {
            array.set(new NDIndex("{}:{}", begin, end), tmp.full(new Shape(end - begin), value, array.getDataType()));
        }
    }

    /**
     * {@code elements} as the length of a Java array, which holds at most 2^31 - 9 elements; a rank's
     * share of a unit beyond that has to be split over more ranks.
     */
    public static int arrayLength(String what, long elements) {
        if (elements < 0 || elements > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(what + " has " + elements + " elements on this rank, more than a Java "
                    + "array holds (2^31 - 9): shard it over more ranks");
        }
        return (int) elements;
    }

    /** The tensor's own memory, or null where it cannot be viewed (not a contiguous CPU PyTorch tensor). */
    private static ByteBuffer cpuView(NDArray part) {
        if (!(part instanceof PtNDArray pt) || !ai.djl.Device.Type.CPU.equals(part.getDevice().getDeviceType())
                || !TensorMemory.isContiguous(part)) {
            return null;
        }
        ByteBuffer view = pt.toByteBuffer(true);
        return view.isDirect() ? view : null;
    }
}
