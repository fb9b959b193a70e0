package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Connections that cannot prove the job secret are refused and the job carries on, whether they
 * come to rank 0's TCP port or to its Unix domain socket.
 */
class StrangerTest {

    @ParameterizedTest(name = "localSockets={0}")
    @ValueSource(booleans = {false, true})
    void strangersAreRefusedAndTheJobIsUnaffected(boolean localSockets) throws Exception {
        int world = 3;
        List<CommConfig> configs = Cluster.configs(Transport.TCP, world, Duration.ofSeconds(20),
                1 << 20, localSockets);
        String[] rank0 = configs.get(0).peers().get(0).split(":");
        SocketAddress target = localSockets
                ? UnixDomainSocketAddress.of(LocalSocketsTest.pathOf(configs.get(0), 0))
                : new java.net.InetSocketAddress(rank0[0], Integer.parseInt(rank0[1]));
        ExecutorService pool = Executors.newFixedThreadPool(world);
        List<Future<Communicator>> made = new ArrayList<>();
        try {
            // ranks 0 and 1 start; rank 0 is listening while the strangers knock
            for (int r = 0; r < 2; r++) {
                CommConfig c = configs.get(r);
                made.add(pool.submit(() -> Communicators.create(c)));
            }
            SocketChannel first = connect(target);

            // 1: speaks the protocol with the wrong secret: cannot verify rank 0, gives up
            Handshake wrong = new Handshake("not the secret".getBytes(StandardCharsets.UTF_8), world, 0);
            try (SocketChannel ch = first) {
                assertThrows(IOException.class,
                        () -> wrong.connect(ch, 2, 0, System.nanoTime() + 5_000_000_000L));
            }

            // 2: replays the protocol shape with a forged proof claiming to be rank 2
            try (SocketChannel ch = connect(target)) {
                ByteBuffer hello = ByteBuffer.allocate(44).putInt(0x4f534332).putInt(world).putInt(0)
                        .put(new byte[32]);
                Io.writeFully(ch, hello.flip(), in5s());
                Io.readFully(ch, ByteBuffer.allocate(84), in5s()); // rank 0's challenge
                ByteBuffer forged = ByteBuffer.allocate(52).putInt(2).put(new byte[16]).put(new byte[32]);
                Io.writeFully(ch, forged.flip(), in5s());
                assertClosedByRank0(ch, "a forged proof");
            }

            // 3: something else entirely (a full hello's worth of it, so rank 0 can judge at once)
            try (SocketChannel ch = connect(target)) {
                byte[] http = new byte[44];
                byte[] get = "GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(get, 0, http, 0, get.length);
                Io.writeFully(ch, ByteBuffer.wrap(http), in5s());
                assertClosedByRank0(ch, "a stranger's bytes");
            }

            // the real rank 2 joins and the job works
            CommConfig c2 = configs.get(2);
            made.add(pool.submit(() -> Communicators.create(c2)));
            Communicator[] comms = new Communicator[world];
            for (int r = 0; r < world; r++) {
                comms[r] = made.get(r).get(30, TimeUnit.SECONDS);
            }
            for (Communicator comm : comms) {
                ((TcpCommunicator) comm).checkLinks(localSockets);
            }
            if (localSockets) {
                assertFalse(Files.exists(LocalSocketsTest.pathOf(configs.get(0), 0)),
                        "rank 0's socket file outlived the rendezvous");
            }
            List<Future<float[]>> results = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                results.add(pool.submit(() -> {
                    try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                        NDArray a = m.create(new float[] {rank, 1, 2}, new Shape(3));
                        comms[rank].allReduce(a, ReduceOp.SUM).await();
                        return a.toFloatArray();
                    }
                }));
            }
            for (Future<float[]> f : results) {
                assertArrayEquals(new float[] {0 + 1 + 2, 3, 6}, f.get(30, TimeUnit.SECONDS));
            }
            for (Communicator c : comms) {
                c.close();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static long in5s() {
        return System.nanoTime() + 5_000_000_000L;
    }

    /** Rank 0 must answer by closing (end of stream or reset), never with data or silence. */
    private static void assertClosedByRank0(SocketChannel ch, String what) {
        ByteBuffer one = ByteBuffer.allocate(1);
        try {
            Io.readFully(ch, one, in5s());
            throw new AssertionError(what + " must be answered by closing, got " + one.get(0));
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError(what + " was neither refused nor answered within 5 s", e);
        } catch (IOException closedOnUs) {
            // end of stream or reset by rank 0: a refusal
        }
    }

    /** Connects (non-blocking, as the rendezvous does) once rank 0 listens. */
    private static SocketChannel connect(SocketAddress target) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try {
                if (target instanceof UnixDomainSocketAddress) {
                    return LocalSockets.connect(((UnixDomainSocketAddress) target).getPath(), 5_000);
                }
                SocketChannel ch = SocketChannel.open(target);
                ch.configureBlocking(false);
                return ch;
            } catch (IOException notYet) { // refused, or the socket file is not there yet
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
                Thread.sleep(20);
            }
        }
    }
}
