package ai.omnispark.trainer.perf;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * The machine's measured matmul rate: a square float32 matmul of side {@code n} through libtorch
 * (DJL), on the calling thread with libtorch's intra-op thread count as the caller set it (a bench
 * binds its rank first, which sets it), timed {@code repeats} times after one untimed warm-up; the
 * median time gives 2 n³ / t. This is the roofline a training step's matmuls can at best reach.
 */
public final class MatmulRate {
    private MatmulRate() {}

    /** @return GFLOP/s, the median over {@code repeats} timed products */
    public static double measureGflops(NDManager parent, int n, int repeats) {
        if (n < 1 || repeats < 1) {
            throw new IllegalArgumentException("the matmul side and repeats must be >= 1, got " + n + " and " + repeats);
        }
        double[] seconds = new double[repeats];
        try (NDManager scope = parent.newSubManager()) {
            NDArray a = scope.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
            NDArray b = scope.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
            a.matMul(b).close(); // first touch of the pages and of libtorch's thread pool
            for (int i = 0; i < repeats; i++) {
                long start = System.nanoTime();
                NDArray c = a.matMul(b); // libtorch's CPU matmul returns when the product is computed
                seconds[i] = (System.nanoTime() - start) / 1e9;
                c.close();
            }
        }
        Arrays.sort(seconds);
        double median = seconds[repeats / 2];
        return 2.0 * n * n * n / median / 1e9;
    }
}
