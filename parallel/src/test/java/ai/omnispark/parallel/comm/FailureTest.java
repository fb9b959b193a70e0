package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A peer that dies, goes silent, or was never invited must not hang or corrupt the job. */
class FailureTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IN_PROCESS", "TCP"})
    void killingOneRankMidCollectiveFailsEveryOtherRankWithinTheTimeout(Transport transport)
            throws Exception {
        int world = 4;
        int victim = 2;
        try (Cluster c = Cluster.start(transport, world, TIMEOUT, CommConfig.DEFAULT_CHUNK_BYTES)) {
            CountDownLatch running = new CountDownLatch(world);
            AtomicLong killedAt = new AtomicLong();
            Thread killer = new Thread(() -> {
                try {
                    running.await();
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
                killedAt.set(System.nanoTime());
                c.comms[victim].close(); // abrupt: sockets and group go away mid-collective
            });
            killer.start();
            List<Object> outcome = c.run((r, comm, m) -> {
                NDArray a = m.ones(new Shape(1 << 20), DataType.FLOAT32);
                running.countDown();
                try {
                    for (int i = 0; i < 100_000; i++) {
                        comm.allReduce(a, ReduceOp.SUM).await();
                    }
                    return "no failure";
                } catch (CommException e) {
                    return new Object[] {e, System.nanoTime()};
                } finally {
                    a.close();
                }
            });
            killer.join();
            for (int r = 0; r < world; r++) {
                assertTrue(outcome.get(r) instanceof Object[], "rank " + r + " saw no failure");
                Object[] o = (Object[]) outcome.get(r);
                CommException e = (CommException) o[0];
                long afterKill = (long) o[1] - killedAt.get();
                assertTrue(afterKill < TIMEOUT.toNanos() + 1_000_000_000L,
                        "rank " + r + " failed " + afterKill / 1e6 + " ms after the kill");
                assertEquals("allReduce", e.op());
                assertEquals(r, e.rank());
                assertTrue(e.getMessage().contains("rank " + r), e.getMessage());
            }
            // and later ops fail at once instead of hanging
            CommException later = assertThrows(CommException.class,
                    () -> c.comms[0].barrier().await());
            assertEquals(0, later.rank());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IN_PROCESS", "TCP"})
    void aSilentPeerTimesOutNamingOpRankAndPeer(Transport transport) throws Exception {
        Duration timeout = Duration.ofMillis(1500);
        try (Cluster c = Cluster.start(transport, 2, timeout, CommConfig.DEFAULT_CHUNK_BYTES)) {
            NDArray a = c.managers[0].ones(new Shape(1000), DataType.FLOAT32);
            long start = System.nanoTime();
            CommException e = assertThrows(CommException.class,
                    () -> c.comms[0].allReduce(a, ReduceOp.SUM).await());
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms >= timeout.toMillis() - 50 && ms < timeout.toMillis() + 1000,
                    "failed after " + ms + " ms");
            assertEquals("allReduce", e.op());
            assertEquals(0, e.rank());
            assertEquals(1, e.peer());
            assertTrue(e.getMessage().contains("allReduce") && e.getMessage().contains("rank 0")
                    && e.getMessage().contains("peer rank 1"), e.getMessage());
            // rank 1 now finds the communicator broken rather than waiting another timeout
            NDArray b = c.managers[1].ones(new Shape(1000), DataType.FLOAT32);
            long t = System.nanoTime();
            assertThrows(CommException.class, () -> c.comms[1].allReduce(b, ReduceOp.SUM).await());
            assertTrue(System.nanoTime() - t < timeout.toNanos() + 1_000_000_000L);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IN_PROCESS", "TCP"})
    void closedCommunicatorFailsNewAndPendingOps(Transport transport) throws Exception {
        try (Cluster c = Cluster.start(transport, 2, TIMEOUT, CommConfig.DEFAULT_CHUNK_BYTES)) {
            NDArray a = c.managers[0].ones(new Shape(10), DataType.FLOAT32);
            Work pending = c.comms[0].allReduce(a, ReduceOp.SUM); // rank 1 never joins
            Thread.sleep(100);
            c.comms[0].close();
            CommException e = assertThrows(CommException.class, pending::await);
            assertTrue(e.getMessage().contains("rank 0"), e.getMessage());
            assertThrows(CommException.class, () -> c.comms[0].barrier().await());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"IN_PROCESS", "TCP"})
    void mismatchedDtypesAreRejectedNamingBoth(Transport transport) throws Exception {
        try (Cluster c = Cluster.start(transport, 2, TIMEOUT, CommConfig.DEFAULT_CHUNK_BYTES)) {
            NDArray in = c.managers[0].ones(new Shape(4), DataType.FLOAT32);
            NDArray out = c.managers[0].zeros(new Shape(8), DataType.FLOAT16);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> c.comms[0].allGather(in, out));
            assertTrue(e.getMessage().contains("float32") || e.getMessage().contains("FLOAT32"), e.getMessage());
            assertTrue(e.getMessage().contains("float16") || e.getMessage().contains("FLOAT16"), e.getMessage());
            NDArray wrong = c.managers[0].zeros(new Shape(7), DataType.FLOAT32);
            assertThrows(IllegalArgumentException.class, () -> c.comms[0].allGather(in, wrong));
            NDArray bf = c.managers[0].zeros(new Shape(4), DataType.FLOAT64);
            assertThrows(IllegalArgumentException.class, () -> c.comms[0].allReduce(bf, ReduceOp.SUM));
        }
    }
}
