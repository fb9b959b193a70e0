package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.sun.jna.Platform;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TCP links to this host (loopback or its own addresses) run Reno unless told otherwise, a named algorithm is what the kernel then
 * runs, and a name this host lacks fails the rendezvous with the reason instead of being ignored.
 * The settings are read back from the kernel (getsockopt), not from our own bookkeeping.
 */
class TcpCongestionTest {
    private static final Path SYSTEM_DEFAULT = Path.of("/proc/sys/net/ipv4/tcp_congestion_control");

    private static List<CommConfig> configs(int world, String congestion) {
        return configs(FreePorts.loopback(world), congestion);
    }

    private static List<CommConfig> configs(List<String> peers, String congestion) {
        int world = peers.size();
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        List<CommConfig> out = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            out.add(CommConfig.builder().rank(r).worldSize(world).peers(peers).secret(secret)
                    .timeout(Duration.ofSeconds(20)).transport(Transport.TCP).localSockets(false)
                    .tcpCongestion(congestion).build());
        }
        return out;
    }

    private static void assertEveryLink(Cluster c, String expected) {
        for (int r = 0; r < c.world; r++) {
            TcpCommunicator t = (TcpCommunicator) c.comms[r];
            for (int p = 0; p < c.world; p++) {
                if (p != r) {
                    assertEquals(expected, t.congestionControl(p), "rank " + r + " to rank " + p);
                }
            }
        }
    }

    @Test
    void loopbackLinksRunRenoByDefaultAndStillSumCorrectly() throws Exception {
        assumeTrue(Platform.isLinux(), "per-socket congestion control is Linux only");
        assertEquals(TcpCongestion.AUTO, CommConfig.builder().rank(0).worldSize(1)
                .transport(Transport.IN_PROCESS).secret(new byte[] {1}).build().tcpCongestion());
        try (Cluster c = Cluster.start(configs(3, TcpCongestion.AUTO))) {
            assertEveryLink(c, "reno");
            int n = 300_001; // uneven over 3 ranks and several 256 KiB chunks
            List<float[]> sums = c.run((rank, comm, m) -> {
                NDArray a = m.arange(0f, n, 1f, DataType.FLOAT32).add(rank);
                comm.allReduce(a, ReduceOp.SUM).await();
                return a.toFloatArray();
            });
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) {
                expected[i] = 3f * i + 3f; // ranks add 0, 1 and 2
            }
            for (float[] s : sums) {
                assertArrayEquals(expected, s, 0f);
            }
        }
    }

    /** A non-loopback IPv4 address of this host, or null. */
    private static String ownAddress() throws Exception {
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : Collections.list(nif.getInetAddresses())) {
                if (nif.isUp() && a instanceof Inet4Address && !a.isLoopbackAddress()) {
                    return a.getHostAddress();
                }
            }
        }
        return null;
    }

    @Test
    void linksToThisHostsOwnAddressAlsoRunReno() throws Exception {
        assumeTrue(Platform.isLinux(), "per-socket congestion control is Linux only");
        String host = ownAddress();
        assumeTrue(host != null, "this host has no non-loopback IPv4 address");
        try (Cluster c = Cluster.start(configs(FreePorts.on(host, 2), TcpCongestion.AUTO))) {
            assertEveryLink(c, "reno"); // the kernel routes them over loopback too
        }
    }

    @Test
    void systemLeavesTheKernelsDefaultAndANamedAlgorithmIsApplied() throws Exception {
        assumeTrue(Platform.isLinux() && Files.isReadable(SYSTEM_DEFAULT), "needs Linux's /proc");
        String system = Files.readString(SYSTEM_DEFAULT).trim();
        try (Cluster c = Cluster.start(configs(2, TcpCongestion.SYSTEM))) {
            assertEveryLink(c, system);
        }
        try (Cluster c = Cluster.start(configs(2, "reno"))) { // always built in, always allowed
            assertEveryLink(c, "reno");
            List<float[]> got = c.run((rank, comm, m) -> {
                NDArray a = m.create(new float[] {rank + 1f, 10f * (rank + 1)}, new Shape(2));
                comm.allReduce(a, ReduceOp.MAX).await();
                return a.toFloatArray();
            });
            assertArrayEquals(new float[] {2f, 20f}, got.get(0), 0f);
            assertArrayEquals(new float[] {2f, 20f}, got.get(1), 0f);
        }
    }

    @Test
    void anAlgorithmThisHostLacksFailsTheRendezvousNamingIt() {
        assumeTrue(Platform.isLinux(), "per-socket congestion control is Linux only");
        CommConfig c = configs(1, "nosuchalgo").get(0);
        CommException e = assertThrows(CommException.class, () -> Communicators.create(c));
        assertTrue(e.getMessage().contains("'nosuchalgo'") && e.getMessage().contains("does not have it"),
                e.getMessage());
    }

    @Test
    void aMalformedSettingIsRejectedByTheConfig() {
        for (String bad : new String[] {"", "Reno", "re no", "a-very-long-algorithm-name"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CommConfig.builder().rank(0).worldSize(1).secret(new byte[] {1}).transport(Transport.IN_PROCESS)
                            .tcpCongestion(bad).build());
            assertTrue(e.getMessage().contains("tcpCongestion") && e.getMessage().contains("'" + bad + "'"),
                    e.getMessage());
        }
    }
}
