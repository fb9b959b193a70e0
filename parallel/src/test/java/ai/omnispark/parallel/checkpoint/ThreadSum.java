package ai.omnispark.parallel.checkpoint;

import java.util.Arrays;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.DoubleUnaryOperator;

/** sumAll over threads of one test: a barrier that also adds. */
final class ThreadSum {
    private final CyclicBarrier barrier;
    private final double[] values;
    private double total;

    ThreadSum(int n) {
        values = new double[n];
        barrier = new CyclicBarrier(n, () -> total = Arrays.stream(values).sum());
    }

    DoubleUnaryOperator forRank(int rank) {
        return v -> {
            values[rank] = v;
            try {
                barrier.await(20, TimeUnit.SECONDS);
                double t = total;
                barrier.await(20, TimeUnit.SECONDS);
                return t;
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IllegalStateException(e);
            }
        };
    }
}
