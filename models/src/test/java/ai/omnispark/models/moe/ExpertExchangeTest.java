package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.runtime.RankContext;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The dispatch and combine exchanges of expert parallelism on 3 in-process ranks (6 experts, 2 per
 * rank) against a direct computation from every rank's rows: each rank must receive, source by
 * source, exactly the rows the sources sorted for its experts, with the per-(source, expert) counts,
 * and the reverse exchange must give every rank back its own rows unchanged. Rank 2 sends nothing
 * to itself and receives nothing at all; rank 1 sends no row whatever.
 */
class ExpertExchangeTest {
    private static final int WORLD = 3;
    private static final int EXPERTS = 6;
    private static final int H = 3;

    /** Rows rank r sends to each expert (the sorted send buffer holds them expert by expert). */
    private static long[] sentPerExpert(int rank) {
        return switch (rank) {
            case 0 -> new long[] {2, 0, 1, 3, 0, 0};
            case 1 -> new long[] {0, 0, 0, 0, 0, 0};
            default -> new long[] {1, 1, 0, 4, 0, 0};
        };
    }

    /** Row j of rank r's send buffer: values that name the rank, the row and the column. */
    private static float value(int rank, long row, int col) {
        return rank * 1000 + row * 10 + col;
    }

    private static float[] sendRows(int rank) {
        long n = ExpertExchange.sum(sentPerExpert(rank));
        float[] v = new float[(int) n * H];
        for (int j = 0; j < n; j++) {
            for (int c = 0; c < H; c++) {
                v[j * H + c] = value(rank, j, c);
            }
        }
        return v;
    }

    /** What rank p must receive: for each source s, s's rows for experts [2p, 2p + 2), in s's order. */
    private static float[] expectedReceived(int p) {
        List<Float> out = new ArrayList<>();
        for (int s = 0; s < WORLD; s++) {
            long[] sent = sentPerExpert(s);
            long start = 0;
            for (int e = 0; e < 2 * p; e++) {
                start += sent[e];
            }
            long n = sent[2 * p] + sent[2 * p + 1];
            for (long j = start; j < start + n; j++) {
                for (int c = 0; c < H; c++) {
                    out.add(value(s, j, c));
                }
            }
        }
        float[] v = new float[out.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = out.get(i);
        }
        return v;
    }

    private static long[] expectedCounts(int p) {
        long[] c = new long[WORLD * 2];
        for (int s = 0; s < WORLD; s++) {
            c[s * 2] = sentPerExpert(s)[2 * p];
            c[s * 2 + 1] = sentPerExpert(s)[2 * p + 1];
        }
        return c;
    }

    @Test
    void dispatchDeliversEachExpertsRowsAndCombineReturnsThem() throws Exception {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(WORLD);
        List<Future<Void>> results = new ArrayList<>();
        try {
            for (int r = 0; r < WORLD; r++) {
                int rank = r;
                results.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(rank).worldSize(WORLD).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator ep = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(rank).worldSize(WORLD).threads(1).build()) {
                        ctx.bindThread();
                        long[] sent = sentPerExpert(rank);
                        long[] received = ExpertExchange.receivedPerExpert(ep, ctx.manager(), sent);
                        assertArrayEquals(expectedCounts(rank), received, "rank " + rank + " received counts");
                        float[] mine = sendRows(rank);
                        NDArray rows = ctx.manager().create(mine, new Shape(mine.length / H, H));
                        long[] toPeers = ExpertExchange.perPeer(sent, WORLD);
                        long[] fromPeers = ExpertExchange.perPeer(received, WORLD);
                        NDArray got = ExpertExchange.exchange(ep, ctx.manager(), rows, toPeers, fromPeers);
                        assertEquals(new Shape(ExpertExchange.sum(received), H), got.getShape());
                        assertArrayEquals(expectedReceived(rank), got.toFloatArray(), "rank " + rank + " received rows");
                        // The reverse exchange of a transposed (non-contiguous) view of the same values.
                        NDArray strided = got.transpose().duplicate().transpose();
                        NDArray back = ExpertExchange.exchange(ep, ctx.manager(), strided, fromPeers, toPeers);
                        assertArrayEquals(mine, back.toFloatArray(), "rank " + rank + " got its own rows back");
                    }
                    return null;
                }));
            }
            for (Future<Void> f : results) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
