package ai.omnispark.parallel.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * This process's resident memory as Linux counts it in {@code /proc/self/status}: heap and native
 * (libtorch) together, which is what benchmarks and memory tests compare. Where {@code /proc} is
 * not there, the readings are -1 and a reset reports false.
 */
public final class ResidentMemory {
    private static final Path STATUS = Path.of("/proc/self/status");

    private ResidentMemory() {}

    /** The most resident memory this process has had (VmHWM), in bytes, or -1. */
    public static long peakBytes() {
        return statusBytes("VmHWM:");
    }

    /** The resident memory now (VmRSS), in bytes, or -1. */
    public static long currentBytes() {
        return statusBytes("VmRSS:");
    }

    /**
     * Resets the peak to the current resident size (writing 5 to {@code /proc/self/clear_refs}), so
     * that a measured run's peak is its own; false where that is not possible.
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static long statusBytes(String field) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
