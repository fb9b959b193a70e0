package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** What a manager really holds: every tensor attached to it or to its sub-managers, in bytes. */
public final class ManagedBytes {
    private ManagedBytes() {}

    public static long of(NDManager manager) {
        long bytes = 0;
        for (NDArray a : manager.getManagedArrays()) {
            if (!a.isReleased()) {
                bytes += a.size() * a.getDataType().getNumOfBytes();
            }
        }
        return bytes;
    }
}
