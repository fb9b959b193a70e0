package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Same-host ranks meet over Unix domain sockets unless told not to; the socket files live only as
 * long as the rendezvous, stale or unusable ones never stop a job, and the path never shows the
 * secret. The ops themselves run over Unix sockets in CollectiveTest, LargeCollectiveTest,
 * StrangerTest and ProcessKillTest.
 */
class LocalSocketsTest {

    /** Where rank {@code r} of {@code c}'s job listens for same-host peers. */
    static Path pathOf(CommConfig c, int r) {
        return LocalSockets.path(LocalSockets.tmpDir(), c.secret(),
                TcpRendezvous.parse(c.peers().get(r)));
    }

    /** Every link of a TCP cluster is a Unix socket if {@code localSockets}, else TCP. */
    static void assertLinks(Cluster c, boolean localSockets) {
        if (c.transport != Transport.TCP) {
            return;
        }
        for (Communicator comm : c.comms) {
            ((TcpCommunicator) comm).checkLinks(localSockets);
        }
    }

    private static void assertNoSocketFiles(List<CommConfig> configs) {
        for (int r = 0; r < configs.size(); r++) {
            Path p = pathOf(configs.get(r), r);
            assertFalse(Files.exists(p), p + " outlived the rendezvous");
            assertFalse(Files.exists(p.getParent()), p.getParent() + " outlived the rendezvous");
        }
    }

    @ParameterizedTest(name = "localSockets={0}")
    @ValueSource(booleans = {false, true})
    void linksFollowTheFlagAndNoSocketFileOutlivesTheRendezvous(boolean localSockets)
            throws Exception {
        try (Cluster c = Cluster.start(Transport.TCP, 4, Duration.ofSeconds(20), 4096, localSockets)) {
            assertLinks(c, localSockets);
            assertNoSocketFiles(c.configs);
            List<float[]> out = c.run((r, comm, m) -> {
                NDArray a = m.create(new float[] {r, 1}, new Shape(2));
                comm.allReduce(a, ReduceOp.SUM).await();
                return a.toFloatArray();
            });
            for (float[] o : out) {
                assertArrayEquals(new float[] {6, 4}, o);
            }
        }
    }

    @Test
    void aFailedRendezvousRemovesTheSocketFile() throws Exception {
        List<CommConfig> configs = Cluster.configs(Transport.TCP, 2, Duration.ofMillis(1500), 4096, true);
        Path path = pathOf(configs.get(0), 0);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Communicator> rank0 = pool.submit(() -> Communicators.create(configs.get(0)));
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (!Files.exists(path) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(Files.exists(path), "rank 0 never listened on " + path);
            if (Files.getFileStore(path.getParent()).supportsFileAttributeView("posix")) {
                assertEquals("rwx------",
                        PosixFilePermissions.toString(Files.getPosixFilePermissions(path.getParent())));
            }
            // rank 1 never comes: rank 0 gives up after the timeout and cleans up
            java.util.concurrent.ExecutionException e = assertThrows(
                    java.util.concurrent.ExecutionException.class, () -> rank0.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof CommException, String.valueOf(e.getCause()));
            assertNoSocketFiles(configs.subList(0, 1));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        List<CommConfig> configs = Cluster.configs(Transport.TCP, 3, Duration.ofSeconds(20), 4096, true);
        Path path = pathOf(configs.get(0), 0);
        // a killed rank leaves its file behind: closing a Unix listener does not unlink it
        Files.createDirectories(path.getParent(),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(Files.exists(path));
        try (Cluster c = Cluster.start(configs)) {
            assertLinks(c, true);
            assertNoSocketFiles(configs);
        }
    }

    @Test
    void anUnusableSocketFallsBackToTcp() throws Exception {
        List<CommConfig> configs = Cluster.configs(Transport.TCP, 2, Duration.ofSeconds(20), 4096, true);
        Path path = pathOf(configs.get(0), 0);
        Path dir = path.getParent();
        assertTrue(Files.getFileStore(LocalSockets.tmpDir()).supportsFileAttributeView("posix"));
        // a directory others may write is not trusted, so rank 0 listens on TCP only; the dead
        // socket in it makes rank 1 try (and fail) a Unix connect first
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        try (Cluster c = Cluster.start(configs)) {
            assertLinks(c, false);
            List<float[]> out = c.run((r, comm, m) -> {
                NDArray a = m.create(new float[] {r + 1}, new Shape(1));
                comm.allReduce(a, ReduceOp.SUM).await();
                return a.toFloatArray();
            });
            assertArrayEquals(new float[] {3}, out.get(1));
        } finally {
            Files.deleteIfExists(path);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void onlyThisHostsAddressesAreLocal() throws Exception {
        assertTrue(LocalSockets.isThisHost(new InetSocketAddress("127.0.0.1", 1)));
        assertTrue(LocalSockets.isThisHost(new InetSocketAddress("localhost", 1)));
        assertTrue(LocalSockets.isThisHost(new InetSocketAddress("0.0.0.0", 1)));
        assertFalse(LocalSockets.isThisHost(new InetSocketAddress("192.0.2.1", 1))); // TEST-NET-1
        assertFalse(LocalSockets.isThisHost(InetSocketAddress.createUnresolved("nowhere.invalid", 1)));
        for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            for (InetAddress a : Collections.list(ni.getInetAddresses())) {
                assertTrue(LocalSockets.isThisHost(new InetSocketAddress(a, 1)), a.toString());
            }
        }
    }

    @Test
    void pathsAreShortPerAddressAndDoNotShowTheSecret() {
        byte[] secret = new byte[32];
        for (int i = 0; i < secret.length; i++) {
            secret[i] = (byte) (i * 37);
        }
        Path tmp = Path.of("/tmp");
        InetSocketAddress a = new InetSocketAddress("127.0.0.1", 29500);
        Path p = LocalSockets.path(tmp, secret, a);
        assertEquals(p, LocalSockets.path(tmp, secret.clone(), new InetSocketAddress("127.0.0.1", 29500)));
        assertNotEquals(p, LocalSockets.path(tmp, secret, new InetSocketAddress("127.0.0.1", 29501)));
        assertNotEquals(p, LocalSockets.path(tmp, secret, new InetSocketAddress("127.0.0.2", 29500)));
        byte[] other = secret.clone();
        other[0] ^= 1;
        assertNotEquals(p.getParent(), LocalSockets.path(tmp, other, a).getParent());
        String s = p.toString();
        assertTrue(s.length() < 100, s);
        String hex = HexFormat.of().formatHex(secret);
        for (int i = 0; i + 8 <= hex.length(); i += 8) {
            assertFalse(s.contains(hex.substring(i, i + 8)), s);
        }
        // sun_path holds 108 bytes: a deep tmpdir means no Unix socket, not a failed bind
        assertNull(LocalSockets.path(Path.of("/" + "d".repeat(120)), secret, a));
    }
}
