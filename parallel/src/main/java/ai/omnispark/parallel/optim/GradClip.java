package ai.omnispark.parallel.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.util.Collection;
import java.util.function.DoubleUnaryOperator;

/** Global gradient-norm clipping over many flat gradients, possibly sharded across ranks. */
public final class GradClip {
    private GradClip() {}

    /** Sum of squares of every element of {@code grads}. */
    public static double sumOfSquares(Collection<NDArray> grads) {
        double total = 0;
        try (NDScope scope = new NDScope()) {
            for (NDArray g : grads) {
                total += g.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).square().sum().getDouble();
            }
        }
        return total;
    }

    /**
     * Scales {@code grads} in place so their global L2 norm is at most {@code maxNorm}.
     *
     * @param globalSum turns this rank's sum of squares into the sum over all shards (identity on
     *     one rank, an all-reduce under FSDP)
     * @return the global norm before clipping
     */
    public static double clip(Collection<NDArray> grads, double maxNorm, DoubleUnaryOperator globalSum) {
        double norm = Math.sqrt(globalSum.applyAsDouble(sumOfSquares(grads)));
        double scale = scale(norm, maxNorm);
        if (scale != 1) {
            for (NDArray g : grads) {
                g.muli(scale);
            }
        }
        return norm;
    }

    /** The factor that brings gradients of global norm {@code norm} within {@code maxNorm} (0: no clipping); 1 if none is needed. */
    public static double scale(double norm, double maxNorm) {
        return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
    }
}
