package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The communicators work through views of tensor memory, so a tensor whose memory is not one
 * contiguous run must be refused: DJL would hand out a buffer over a hidden contiguous copy, and a
 * collective would update the copy while the tensor kept its old values.
 */
class BuffersTest {
    @Test
    void transposedViewIsRefused() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDArray t = m.arange(0f, 6f, 1f, DataType.FLOAT32).reshape(2, 3).transpose();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Buffers.view(t, "allReduce inOut"));
            assertTrue(e.getMessage().contains("allReduce inOut") && e.getMessage().contains("contiguous"),
                    e.getMessage());
        }
    }

    @Test
    void contiguousViewWritesThroughToTheTensor() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDArray t = m.zeros(new Shape(2, 3), DataType.FLOAT32);
            Buffers.view(t, "t").asFloatBuffer().put(4, 7f);
            assertArrayEquals(new float[] {0, 0, 0, 0, 7, 0}, t.toFloatArray());
        }
    }

    /** End to end: an all-reduce over a transposed view fails on every rank instead of summing a copy. */
    @Test
    void collectiveOnTransposedViewFailsOnEveryRank() throws Exception {
        try (Cluster c = Cluster.start(Transport.IN_PROCESS, 2, Duration.ofSeconds(20), 1 << 16)) {
            List<String> errors = c.run((rank, comm, m) -> {
                NDArray t = m.arange(0f, 6f, 1f, DataType.FLOAT32).reshape(2, 3).transpose();
                try {
                    comm.allReduce(t, ReduceOp.SUM).await();
                    return "no error; tensor now " + java.util.Arrays.toString(t.toFloatArray());
                } catch (IllegalArgumentException e) {
                    return e.getMessage();
                }
            });
            for (String e : errors) {
                assertTrue(e.contains("not contiguous"), e);
            }
        }
    }
}
