package ai.omnispark.parallel.comm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.omnispark.parallel.runtime.TensorMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Views of tensor memory and byte ranges of it. */
final class Buffers {
    private Buffers() {}

    /** Bytes per element of the dtypes the communicators carry; rejects the others. */
    static int elementBytes(DataType dtype) {
        switch (dtype) {
            case FLOAT32:
            case INT32:
                return 4;
            case FLOAT16:
                return 2;
            case INT64:
                return 8;
            default:
                throw new IllegalArgumentException("unsupported dtype " + dtype
                        + ": communicators carry FLOAT32, FLOAT16, INT64 and INT32");
        }
    }

    /**
     * The tensor's own memory as a direct buffer. DJL 0.33's {@code toByteBuffer(true)} wraps the
     * libtorch data pointer without copying (JNI NewDirectByteBuffer), so writes through the
     * buffer land in the tensor; this is what keeps both transports free of serialization.
     * For a non-contiguous tensor DJL silently returns a buffer over a contiguous copy instead, and a
     * collective would update the copy while the tensor kept its values: such tensors are refused.
     */
    static ByteBuffer view(NDArray array, String what) {
        if (!(array instanceof PtNDArray)) {
            throw new IllegalArgumentException(what + " must be a PyTorch-engine NDArray, got "
                    + array.getClass().getName());
        }
        if (!ai.djl.Device.Type.CPU.equals(array.getDevice().getDeviceType())) {
            throw new IllegalArgumentException(what + " is on " + array.getDevice()
                    + "; the CPU transports need CPU tensors (CUDA tensors need NCCL)");
        }
        if (!TensorMemory.isContiguous(array)) {
            throw new IllegalArgumentException(what + " of shape " + array.getShape() + " is not contiguous in "
                    + "memory (a transposed or strided view?); the communicators work on the tensor's own memory, "
                    + "so pass a contiguous tensor (copy the view first and copy the result back)");
        }
        long bytes = array.size() * elementBytes(array.getDataType());
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(what + " has " + bytes + " bytes; a CPU transport views at most 2 GiB "
                    + "of one tensor (Java buffers are int-sized): shard the unit over more ranks or split it");
        }
        ByteBuffer b = ((PtNDArray) array).toByteBuffer(true);
        if (!b.isDirect()) {
            throw new IllegalStateException(what + ": libtorch returned a heap copy, not a view");
        }
        return b.order(ByteOrder.nativeOrder());
    }

    /** A caller's buffer from position to limit, checked to be direct and whole elements. */
    static ByteBuffer region(ByteBuffer b, DataType dtype, String what) {
        if (!b.isDirect()) {
            throw new IllegalArgumentException(what + " must be a direct ByteBuffer");
        }
        int e = elementBytes(dtype);
        if (b.remaining() % e != 0) {
            throw new IllegalArgumentException(what + " has " + b.remaining()
                    + " bytes, not a whole number of " + dtype + " elements");
        }
        return b.slice().order(ByteOrder.nativeOrder());
    }

    /** Bytes [off, off+len) of b (whose position is 0), native order, position 0. */
    static ByteBuffer slice(ByteBuffer b, long off, long len) {
        return b.duplicate().limit(Math.toIntExact(off + len)).position(Math.toIntExact(off))
                .slice().order(ByteOrder.nativeOrder());
    }

    /** Copies all of src into dst at offset 0. */
    static void copy(ByteBuffer src, ByteBuffer dst) {
        dst.duplicate().put(src.duplicate());
    }

    static ByteBuffer allocate(long bytes) {
        return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
    }
}
