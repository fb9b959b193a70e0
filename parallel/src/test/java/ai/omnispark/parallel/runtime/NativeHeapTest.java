package ai.omnispark.parallel.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
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
    private static final long BLOCK = 64L << 10;

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
     * Freed blocks between live ones stay resident until trimmed: 64 MiB of 64 KiB blocks (below
     * glibc's default mmap threshold, so they come from an arena), each followed by a small block
     * that stays live so the arena's top cannot shrink over them, written so they are resident, then
     * freed. The freed bytes still count in the resident size (within 16 MiB: pages other threads
     * touch meanwhile); after {@link NativeHeap#trim} at least 3/4 of them are gone from it, and the
     * live C-heap bytes do not move (trimming frees nothing in use).
     */
    @Test
    void trimHandsFreedArenaPagesBack() {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        int blocks = (int) (BYTES / BLOCK);
        long[] freed = new long[blocks];
        long[] kept = new long[blocks];
        for (int i = 0; i < blocks; i++) {
            freed[i] = Native.malloc(BLOCK);
            kept[i] = Native.malloc(64);
            new Pointer(freed[i]).setMemory(0, BLOCK, (byte) 1);
        }
        try {
            long residentWithBlocks = ResidentMemory.currentBytes();
            for (long p : freed) {
                Native.free(p);
            }
            long residentFreed = ResidentMemory.currentBytes();
            long liveFreed = NativeHeap.liveBytes();
            assertEquals(residentWithBlocks, residentFreed, 16L << 20, "free alone keeps the pages resident");
            NativeHeap.trim();
            long residentTrimmed = ResidentMemory.currentBytes();
            assertTrue(residentFreed - residentTrimmed >= BYTES * 3 / 4,
                    "trim released " + (residentFreed - residentTrimmed) + " of " + BYTES + " freed bytes");
            assertEquals(liveFreed, NativeHeap.liveBytes(), SLACK, "live bytes across the trim");
        } finally {
            for (long p : kept) {
                Native.free(p);
            }
        }
    }
}
