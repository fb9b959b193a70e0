package ai.omnispark.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The tensor functions the models are written in; pure and differentiable. Out-of-place throughout,
 * since an in-place op on a recorded tensor can corrupt what autograd saved.
 */
public final class Ops {
    private Ops() {}

    /** {@code x W^T + b} through libtorch's fused linear. */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return (bias == null ? Linear.linear(x, weight) : Linear.linear(x, weight, bias)).singletonOrThrow();
    }

    /**
     * A 0-dim tensor of {@code like}'s dtype holding {@code value}, in memory libtorch owns.
     *
     * <p>Never use DJL's {@code op(Number)} overloads or {@code create} on a recorded path: they wrap
     * a Java direct buffer that the garbage collector frees once the NDArray is closed, and autograd
     * may have saved the tensor for backward (e.g. {@code mul} saves its other operand), which then
     * reads freed memory. That was silent, rare gradient corruption; GraphLifetimeTest guards it.
     */
    public static NDArray constant(NDArray like, double value) {
        return owned(like.getManager().create(value), like.getDataType());
    }

    /**
     * {@code javaBacked} (an array DJL's {@code create} built over a Java buffer) as {@code dtype},
     * copied into memory libtorch owns; closes {@code javaBacked}. See {@link #constant} for why.
     */
    public static NDArray owned(NDArray javaBacked, DataType dtype) {
        try (javaBacked) {
            return javaBacked.getDataType() == dtype ? javaBacked.duplicate() : javaBacked.toType(dtype, false);
        }
    }

    /** {@code x * s} for a constant s. */
    public static NDArray scale(NDArray x, double s) {
        return x.mul(constant(x, s));
    }

    /** RMSNorm over the last axis: {@code w * x / sqrt(mean(x^2) + eps)}. */
    public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
        NDArray rms = x.square().mean(new int[] {-1}, true).add(constant(x, eps)).sqrt();
        return x.div(rms).mul(weight);
    }

    public static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** {@code [-x2, x1]} for {@code x = [x1, x2]} split in halves along the last axis. */
    public static NDArray rotateHalf(NDArray x) {
        long half = x.getShape().get(x.getShape().dimension() - 1) / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        return NDArrays.concat(new ai.djl.ndarray.NDList(x2.neg(), x1), -1);
    }

    /** Rotary embedding with HF's rotate-half convention; cos and sin broadcast over heads. */
    public static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(rotateHalf(x).mul(sin));
    }

    /** LayerNorm over the last axis with weight and bias (libtorch's fused layer_norm). */
    public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, double eps) {
        long width = x.getShape().get(x.getShape().dimension() - 1);
        return JniUtils.layerNorm((PtNDArray) x, new ai.djl.ndarray.types.Shape(width), (PtNDArray) weight,
                (PtNDArray) bias, eps);
    }

    /** transformers' quick_gelu: {@code x * sigmoid(1.702 x)}. */
    public static NDArray quickGelu(NDArray x) {
        return x.mul(Activation.sigmoid(scale(x, 1.702)));
    }

    /** GELU with the exact erf: {@code x/2 * (1 + erf(x / sqrt 2))} (torch's nn.GELU() default). */
    public static NDArray gelu(NDArray x) {
        return scale(x, 0.5).mul(scale(x, 1 / Math.sqrt(2)).erf().add(constant(x, 1)));
    }

    /** GELU with the tanh approximation (torch's GELU(approximate="tanh")): {@code x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}. */
    public static NDArray geluTanh(NDArray x) {
        NDArray inner = scale(x.add(scale(x.mul(x).mul(x), 0.044715)), Math.sqrt(2 / Math.PI));
        return scale(x, 0.5).mul(inner.tanh().add(constant(x, 1)));
    }
}
