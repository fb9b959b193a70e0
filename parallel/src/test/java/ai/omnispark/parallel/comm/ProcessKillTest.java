package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A rank that is a separate JVM is killed (SIGKILL: its sockets close) or frozen (SIGSTOP: its
 * sockets stay open and silent) mid-collective; every other rank must fail within the timeout
 * plus one second, naming the op and itself, over loopback TCP and over Unix domain sockets.
 */
class ProcessKillTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    @ParameterizedTest(name = "SIG{0} localSockets={1}")
    @CsvSource({"KILL, false", "STOP, false", "KILL, true", "STOP, true"})
    void otherRanksFailWithinTheTimeout(String signal, boolean localSockets) throws Exception {
        int world = 3;
        List<CommConfig> configs =
                Cluster.configs(Transport.TCP, world, TIMEOUT, 256 << 10, localSockets);
        CommConfig last = configs.get(world - 1);
        Process child = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), RankProcess.class.getName(),
                String.valueOf(world - 1), String.valueOf(world), String.join(",", last.peers()),
                HexFormat.of().formatHex(last.secret()), String.valueOf(TIMEOUT.toMillis()),
                String.valueOf(localSockets))
                .redirectErrorStream(true).start();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<long[]>> ranks = new ArrayList<>();
            for (int r = 0; r < world - 1; r++) {
                CommConfig c = configs.get(r);
                ranks.add(pool.submit(() -> loopUntilFailure(c)));
            }
            BufferedReader out = new BufferedReader(
                    new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line;
            do { // skip whatever the child's logging prints first
                line = out.readLine();
            } while (line != null && !line.equals("ready"));
            assertEquals("ready", line, "child rank did not start");
            Thread.sleep(300); // mid-collective: the ranks are looping all-reduces
            long killedAt = System.nanoTime();
            if (signal.equals("KILL")) {
                child.destroyForcibly();
            } else {
                new ProcessBuilder("kill", "-STOP", String.valueOf(child.pid())).start().waitFor();
            }
            for (int r = 0; r < world - 1; r++) {
                long[] res = ranks.get(r).get(30, TimeUnit.SECONDS);
                long ms = (res[0] - killedAt) / 1_000_000;
                assertTrue(res[1] != 2, "rank " + r + " did not use the expected kind of socket");
                assertTrue(res[1] == 1, "rank " + r + " failed without a CommException naming it");
                assertTrue(ms < TIMEOUT.toMillis() + 1000,
                        "rank " + r + " failed " + ms + " ms after SIG" + signal);
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
            pool.shutdownNow();
        }
    }

    /** Returns {time of failure, 1 if the CommException named allReduce and this rank}. */
    private static long[] loopUntilFailure(CommConfig c) {
        ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20).order(ByteOrder.nativeOrder());
        try (Communicator comm = Communicators.create(c)) {
            try {
                ((TcpCommunicator) comm).checkLinks(c.localSockets());
            } catch (IllegalStateException wrongPath) {
                return new long[] {System.nanoTime(), 2}; // fail the test, not hang
            }
            while (true) {
                comm.allReduce(buf, DataType.FLOAT32, ReduceOp.SUM).await();
            }
        } catch (CommException e) {
            boolean named = e.op().equals("allReduce") && e.rank() == c.rank()
                    && e.getMessage().contains("rank " + c.rank());
            return new long[] {System.nanoTime(), named ? 1 : 0};
        }
    }
}
