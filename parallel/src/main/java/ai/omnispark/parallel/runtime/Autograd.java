package ai.omnispark.parallel.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Per-thread autograd on DJL's PyTorch engine.
 *
 * <p>DJL's {@code GradientCollector} is process-global (one at a time, and it zeroes every
 * gradient in the system manager), so ranks that share a JVM cannot use it. PyTorch's grad mode
 * is thread-local, and backward is a plain call, so each rank thread drives its own autograd here.
 */
public final class Autograd {
    private Autograd() {}

    /** Turns gradient recording on or off for the calling thread; returns the previous mode. */
    public static boolean setGradMode(boolean enabled) {
        boolean previous = JniUtils.isGradMode();
        JniUtils.setGradMode(enabled);
        return previous;
    }

    public static boolean isGradMode() {
        return JniUtils.isGradMode();
    }

    /**
     * Back-propagates {@code gradOutput} through the graph that produced {@code output}.
     *
     * @param keepGraph keep the graph so that another backward through it can follow
     */
    public static void backward(NDArray output, NDArray gradOutput, boolean keepGraph) {
        JniUtils.backward((PtNDArray) output, (PtNDArray) gradOutput, keepGraph, false);
    }

    /** A leaf that shares storage with {@code array} and records gradients from now on. */
    public static NDArray leaf(NDArray array) {
        NDArray leaf = array.stopGradient();
        leaf.setRequiresGradient(true);
        return leaf;
    }

    /** The accumulated gradient of a leaf, or null if no backward reached it. */
    public static NDArray gradientOrNull(NDArray leaf) {
        PtNDArray grad = JniUtils.getGradient((PtNDArray) leaf);
        return grad;
    }
}
