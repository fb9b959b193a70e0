package ai.omnispark.parallel.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Facts about a tensor's memory that DJL 0.33 computes but does not expose. Code that reads or
 * writes a tensor through {@code toByteBuffer(true)} needs to know the tensor is contiguous: for
 * any other tensor DJL returns a buffer over a hidden contiguous copy, so writes would be lost.
 */
public final class TensorMemory {
    /** libtorch's {@code is_contiguous} as DJL binds it (PyTorchLibrary.LIB.torchIsContiguous), looked up once. */
    private static final Method IS_CONTIGUOUS;
    private static final Object TORCH;

    static {
        try {
            Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            Field field = lib.getDeclaredField("LIB");
            field.setAccessible(true);
            Method method = lib.getDeclaredMethod("torchIsContiguous", long.class);
            method.setAccessible(true);
            IS_CONTIGUOUS = method;
            TORCH = field.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError("this DJL has no PyTorchLibrary.LIB.torchIsContiguous(long), which "
                    + "OmniSpark needs to tell views of tensor memory from copies: " + e);
        }
    }

    private TensorMemory() {}

    /** Whether {@code array}, a PyTorch-engine tensor, occupies one contiguous run of its storage. */
    public static boolean isContiguous(NDArray array) {
        if (!(array instanceof PtNDArray pt)) {
            throw new IllegalArgumentException("expected a PyTorch-engine NDArray, got " + array.getClass().getName());
        }
        try {
            return (Boolean) IS_CONTIGUOUS.invoke(TORCH, pt.getHandle());
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot ask libtorch whether a tensor is contiguous", e);
        }
    }
}
