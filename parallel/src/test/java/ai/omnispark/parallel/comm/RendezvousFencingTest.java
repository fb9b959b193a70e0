package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The rendezvous of a relaunched job: a straggling rank of the failed attempt, even one holding the
 * job's secret, is refused, and connections that never authenticate hold neither unbounded threads
 * nor a slot for longer than the handshake limit, so the real peer still joins.
 */
class RendezvousFencingTest {

    private static CommConfig withAttempt(CommConfig c, int attempt) {
        return CommConfig.builder().rank(c.rank()).worldSize(c.worldSize()).peers(c.peers()).secret(c.secret())
                .timeout(c.timeout()).transport(c.transport()).chunkBytes(c.chunkBytes())
                .localSockets(c.localSockets()).attempt(attempt).build();
    }

    @Test
    void aPeerOfAnOlderAttemptIsRefusedEvenWithTheSameSecret() throws Exception {
        List<CommConfig> configs = Cluster.configs(Transport.TCP, 2, Duration.ofSeconds(30), 1 << 20, false);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<Communicator> rank0 = pool.submit(() -> Communicators.create(withAttempt(configs.get(0), 1)));
            CommException stale = assertThrows(CommException.class,
                    () -> Communicators.create(withAttempt(configs.get(1), 0)));
            assertTrue(stale.getMessage().contains("handshake with rank 0"), stale.getMessage());
            // The current attempt's rank 1 still joins, and the pair works.
            Future<Communicator> rank1 = pool.submit(() -> Communicators.create(withAttempt(configs.get(1), 1)));
            Communicator[] comms = {rank0.get(30, TimeUnit.SECONDS), rank1.get(30, TimeUnit.SECONDS)};
            assertSums(pool, comms);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void silentConnectionsAreBoundedInNumberAndTime() throws Exception {
        Duration timeout = Duration.ofSeconds(30);
        List<CommConfig> configs = Cluster.configs(Transport.TCP, 2, timeout, 1 << 20, false);
        String[] hostPort = configs.get(0).peers().get(0).split(":");
        InetSocketAddress rank0Address = new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1]));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Socket> silent = new ArrayList<>();
        try {
            Future<Communicator> rank0 = pool.submit(() -> Communicators.create(configs.get(0)));
            long until = System.nanoTime() + 10_000_000_000L;
            while (silent.size() < 12 && System.nanoTime() < until) {
                Socket s = new Socket();
                try {
                    s.connect(rank0Address, 500);
                    silent.add(s); // connects and then says nothing, ever
                } catch (java.io.IOException notYetOrBacklogFull) {
                    s.close();
                    Thread.sleep(20);
                }
            }
            assertTrue(silent.size() >= 6, "only " + silent.size() + " silent connections got through");
            Thread.sleep(500);
            long handshakes = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("omnispark-comm-handshake-0")).count();
            assertTrue(handshakes <= TcpRendezvous.maxPendingHandshakes(0, 2), handshakes + " handshake threads for "
                    + silent.size() + " silent connections; the bound is " + TcpRendezvous.maxPendingHandshakes(0, 2));
            // The real rank 1 joins although the silent ones never leave.
            long start = System.nanoTime();
            Future<Communicator> rank1 = pool.submit(() -> Communicators.create(configs.get(1)));
            Communicator[] comms = {rank0.get(30, TimeUnit.SECONDS), rank1.get(30, TimeUnit.SECONDS)};
            assertTrue(System.nanoTime() - start < timeout.toNanos(), "rank 1 joined after the timeout");
            assertSums(pool, comms);
        } finally {
            for (Socket s : silent) {
                s.close();
            }
            pool.shutdownNow();
        }
    }

    private static void assertSums(ExecutorService pool, Communicator[] comms) throws Exception {
        List<Future<float[]>> results = new ArrayList<>();
        for (int r = 0; r < comms.length; r++) {
            int rank = r;
            results.add(pool.submit(() -> {
                try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                    NDArray a = m.create(new float[] {rank, 1}, new Shape(2));
                    comms[rank].allReduce(a, ReduceOp.SUM).await();
                    return a.toFloatArray();
                }
            }));
        }
        for (Future<float[]> f : results) {
            assertArrayEquals(new float[] {1, 2}, f.get(30, TimeUnit.SECONDS));
        }
        for (Communicator c : comms) {
            c.close();
        }
    }
}
