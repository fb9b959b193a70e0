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

    /**
     * Holes between live tensors stay resident until trimmed: 2 MiB tensors carved from the arena (a
     * freed 16 MiB one first raises glibc's mmap threshold past them, as a training step's do), every
     * other one freed, leave 64 MiB of holes that no free at the arena's top can return; the trim gives
     * at least half of them back and leaves the live bytes as they were.
     */
    @Test
    void aTrimGivesTheHolesBetweenLiveTensorsBackAndKeepsTheLiveOnes() throws Exception {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        try (RankContext rank = RankContext.single(1); NDManager scope = rank.manager().newSubManager()) {
            rank.bindThread();
            scope.zeros(new Shape(4L << 20), DataType.FLOAT32).close();
            java.util.List<NDArray> all = new java.util.ArrayList<>();
            for (int i = 0; i < 64; i++) {
                all.add(scope.ones(new Shape(512L << 10), DataType.FLOAT32)); // 2 MiB, pages touched
            }
            java.util.List<NDArray> kept = new java.util.ArrayList<>();
            for (int i = 0; i < 64; i++) {
                if (i % 2 == 0) {
                    all.get(i).close();
                } else {
                    kept.add(all.get(i));
                }
            }
            long live = NativeHeap.liveBytes();
            long before = residentBytes();
            assertTrue(NativeHeap.trim(), "glibc released something");
            long after = residentBytes();
            assertTrue(before - after >= 32L << 20, "resident " + (before >> 20) + " MiB -> " + (after >> 20) + " MiB");
            assertEquals(live, NativeHeap.liveBytes(), SLACK, "the live bytes stay");
            assertEquals(512 * 1024, kept.get(31).sum().getFloat(), 1e-3, "a kept tensor reads as written");
        }
    }

    private static long residentBytes() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
