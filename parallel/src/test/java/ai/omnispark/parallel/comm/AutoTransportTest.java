package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AutoTransportTest {

    @Test
    void threadsOfOneJvmOnOneHostGoInProcess() throws Exception {
        try (Cluster c = Cluster.start(Transport.AUTO, 3, Duration.ofSeconds(20), 1 << 20)) {
            for (Communicator comm : c.comms) {
                assertEquals(Transport.IN_PROCESS, Communicators.transportOf(comm));
            }
            List<float[]> got = c.run((r, comm, m) -> {
                NDArray a = m.create(new float[] {r, 1});
                comm.allReduce(a, ReduceOp.SUM).await();
                return a.toFloatArray();
            });
            for (float[] g : got) {
                assertArrayEquals(new float[] {3, 3}, g);
            }
        }
    }

    @Test
    void peerAddressesNeedFixedPorts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TcpRendezvous.parse("127.0.0.1:0"));
        assertTrue(e.getMessage().contains("port"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TcpRendezvous.parse("no-port"));
        assertThrows(IllegalArgumentException.class, () -> CommConfig.builder().rank(0)
                .worldSize(2).secret(new byte[] {1}).transport(Transport.TCP).build());
        assertThrows(IllegalArgumentException.class, () -> CommConfig.builder().rank(2)
                .worldSize(2).secret(new byte[] {1}).build());
    }
}
