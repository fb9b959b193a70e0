package ai.omnispark.parallel.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** libtorch's per-thread allocation windows against tensor sizes derived by hand. */
class TorchAllocationsTest {
    private static final int FLOATS = 1 << 20;
    private static final long TENSOR = FLOATS * (long) Float.BYTES; // 4 MiB

    @Test
    void readsDjlsPrintedSizes() {
        assertEquals(new TorchAllocations.Window("w", 16L << 20, 5243), TorchAllocations.window("w", "16.00 Mb"));
        assertEquals(new TorchAllocations.Window("w", -(4L << 20), 5243), TorchAllocations.window("w", "-4.00 Mb"));
        assertEquals(new TorchAllocations.Window("w", 344, 0), TorchAllocations.window("w", "344 b"));
        assertEquals(new TorchAllocations.Window("w", 12800, 6), TorchAllocations.window("w", "12.50 Kb"));
        assertEquals(new TorchAllocations.Window("w", 3L << 29, 5368710), TorchAllocations.window("w", "1.50 Gb"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TorchAllocations.window("w", "4 MB"));
        assertTrue(e.getMessage().contains("'4 MB'"), e.getMessage());
    }

    /**
     * Inside the window: three tensors made, one made there and one made before it freed. libtorch
     * counts the free of the one it saw allocated, not the older one's (it never learnt its size),
     * and nothing another thread allocates meanwhile.
     */
    @Test
    void countsTheCallingThreadsNetTensorBytes() throws Exception {
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            manager.full(new Shape(FLOATS), 1f).exp().close(); // warm-up: libtorch's first allocations
            NDArray older = manager.full(new Shape(FLOATS), 1f);
            List<TorchAllocations.Window> windows;
            try (TorchAllocations allocations = TorchAllocations.start()) {
                try (Span window = allocations.open("three made, one freed")) {
                    NDArray a = manager.full(new Shape(FLOATS), 1f);
                    NDArray b = a.exp();
                    NDArray c = b.add(a); // b and c stay alive in the manager past the window
                    a.close();
                    older.close();
                    CompletableFuture.runAsync(() -> {
                        try (NDManager other = NDManager.newBaseManager("PyTorch")) {
                            other.full(new Shape(2 * FLOATS), 1f).exp();
                        }
                    }).get(60, TimeUnit.SECONDS);
                }
                try (Span empty = allocations.open("nothing")) {
                    // no tensor made
                }
                windows = allocations.stop();
            }
            assertEquals(2, windows.size(), windows.toString());
            TorchAllocations.Window made = windows.get(0);
            assertEquals("three made, one freed", made.name());
            assertEquals(2 * TENSOR, made.bytes(), made.resolution(), windows.toString());
            assertEquals(new TorchAllocations.Window("nothing", 0, 0), windows.get(1));
        }
    }

    @Test
    void refusesAnotherThreadAndUseAfterStop() throws Exception {
        try (TorchAllocations allocations = TorchAllocations.start()) {
            Throwable e = CompletableFuture.supplyAsync(() -> {
                try {
                    allocations.open("elsewhere");
                    return null;
                } catch (IllegalStateException expected) {
                    return expected;
                }
            }).get(60, TimeUnit.SECONDS);
            assertTrue(e != null && e.getMessage().contains("thread-local"), String.valueOf(e));
            allocations.stop();
            IllegalStateException stopped = assertThrows(IllegalStateException.class, () -> allocations.open("late"));
            assertTrue(stopped.getMessage().contains("stopped"), stopped.getMessage());
        }
    }
}
