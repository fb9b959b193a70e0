package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Copies of tensor memory into Java arrays, in one pass. */
public final class HostCopy {
    private HostCopy() {}

    /**
     * The first {@code length} elements of a float32 CPU tensor. DJL's {@code toFloatArray} copies
     * twice (into a direct buffer, then into the array); reading through a view of the tensor's
     * own memory copies once, which is what keeps an async checkpoint's snapshot short.
     */
    public static float[] floats(NDArray array, int length) {
        if (array.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 tensor, got " + array.getDataType());
        }
        if (length < 0 || length > array.size()) {
            throw new IllegalArgumentException("cannot copy " + length + " of " + array.size() + " elements");
        }
        float[] out = new float[length];
        ByteBuffer view = array instanceof PtNDArray pt && ai.djl.Device.Type.CPU.equals(array.getDevice().getDeviceType()) ? pt.toByteBuffer(true) : null;
        if (view != null && view.isDirect()) {
            view.order(ByteOrder.nativeOrder()).asFloatBuffer().get(out, 0, length);
        } else {
            System.arraycopy(array.toFloatArray(), 0, out, 0, length);
        }
        return out;
    }
}
