package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The reducing collectives on arrays long enough to cross many reducer tiles (8192 elements) and,
 * over TCP, many chunks of the staging buffer with uneven segment ends, against answers computed
 * here. CollectiveTest's arrays fit in one tile.
 */
class LargeCollectiveTest {

    @ParameterizedTest(name = "{0} world={1} chunk={2} localSockets={3}")
    @CsvSource({"IN_PROCESS, 3, 65536, false", "TCP, 2, 4096, false", "TCP, 3, 65536, false",
            "TCP, 4, 12288, false", "TCP, 3, 4096, true", "TCP, 4, 12288, true",
            // tiny chunks: thousands per step, so sends and receives interleave every way
            "TCP, 4, 64, false", "TCP, 3, 16, true"})
    void reducingOpsMatchLocalAnswers(Transport transport, int world, int chunk,
            boolean localSockets) throws Exception {
        int n = 5 * 8192 + 3; // neither whole tiles nor whole chunks, nor divisible by the world
        try (Cluster c = Cluster.start(transport, world, Duration.ofSeconds(30), chunk, localSockets)) {
            LocalSocketsTest.assertLinks(c, localSockets);
            for (DataType dt : CollectiveTest.DTYPES) {
                for (ReduceOp op : ReduceOp.values()) {
                    String what = transport + " world=" + world + " " + dt + " " + op;
                    CollectiveTest.allReduce(c, dt, n, op, what + " allReduce");
                    CollectiveTest.reduceScatter(c, dt, n, op, what + " reduceScatter");
                }
                CollectiveTest.allGather(c, dt, n, transport + " " + dt + " allGather");
                CollectiveTest.allToAll(c, dt, n - n % world, transport + " " + dt + " allToAll");
            }
        }
    }
}
