package ai.omnispark.parallel.runtime;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Structure;

/**
 * The bytes this process's C heap has handed out and not had back: glibc's {@code mallinfo2()},
 * {@code uordblks} (in use in every arena) + {@code hblkhd} (mmapped blocks). libtorch's CPU
 * tensors are allocated there (posix_memalign), the Java heap is not. Unlike the resident size it
 * does not count freed memory that malloc keeps for reuse, nor miss reused memory, so the
 * difference of two readings is what was allocated and is still live in between, to the byte
 * (plus whatever other threads allocated meanwhile). Where glibc or {@code mallinfo2} (glibc 2.33+)
 * is missing, {@link #liveBytes} is -1.
 */
public final class NativeHeap {
    private NativeHeap() {}

    /** Live C-heap bytes of the whole process, or -1 where glibc's mallinfo2 is not available. */
    public static long liveBytes() {
        LibC libc = Holder.LIBC;
        if (libc == null) {
            return -1;
        }
        MallInfo2 info = libc.mallinfo2();
        return info.uordblks + info.hblkhd;
    }

    /**
     * Hands the free memory of every arena back to the system (glibc's {@code malloc_trim(0)}: the
     * free chunks' whole pages are dropped from the resident set, and a later allocation there faults
     * them in again). False where glibc is missing or nothing could be released.
     */
    public static boolean trim() {
        LibC libc = Holder.LIBC;
        return libc != null && libc.malloc_trim(0) == 1;
    }

    /** Whether {@link #liveBytes} reads something. */
    public static boolean available() {
        return Holder.LIBC != null;
    }

    /** glibc's {@code struct mallinfo2}: ten {@code size_t} (64-bit here). */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost"})
    public static class MallInfo2 extends Structure implements Structure.ByValue {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;
    }

    interface LibC extends Library {
        MallInfo2 mallinfo2();

        int malloc_trim(long pad);
    }

    private static final class Holder {
        static final LibC LIBC = load();

        private static LibC load() {
            try {
                LibC libc = Native.load("c", LibC.class);
                libc.mallinfo2();
                return libc;
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                return null;
            }
        }
    }
}
