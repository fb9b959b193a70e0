package ai.omnispark.parallel.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The C-heap reading sees a libtorch tensor's bytes while it lives and not after: a 64 MiB float
 * tensor moves it by 64 MiB within 4 MiB (what other JVM threads may malloc meanwhile: a clean-clone
 * CI run once saw 2.4 MiB from them in the first round), twice in a row (so memory malloc keeps
 * after the first free does not hide the second allocation, as it would from the resident size),
 * after one unchecked round that lets libtorch's first-use set-up happen outside the checked ones.
 */
class NativeHeapTest {
    private static final long BYTES = 64L << 20;
    private static final long SLACK = 4L << 20;

    @Test
    void aTensorsBytesAreLiveWhileItIsAndNotAfter() {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        try (RankContext rank = RankContext.single(1); NDManager scope = rank.manager().newSubManager()) {
            rank.bindThread();
            scope.zeros(new Shape(BYTES / 4), DataType.FLOAT32).close();
            for (int round = 0; round < 2; round++) {
                long before = NativeHeap.liveBytes();
                NDArray t = scope.zeros(new Shape(BYTES / 4), DataType.FLOAT32);
                long during = NativeHeap.liveBytes();
                t.close();
                long after = NativeHeap.liveBytes();
                assertEquals(BYTES, during - before, SLACK, "round " + round + ": live while the tensor lives");
                assertEquals(0, after - before, SLACK, "round " + round + ": freed");
            }
            assertTrue(NativeHeap.liveBytes() > 0);
        }
    }
}
