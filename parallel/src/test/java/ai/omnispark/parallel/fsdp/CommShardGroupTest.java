package ai.omnispark.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
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
 * The job-wide counts of {@link CommShardGroup} on three in-process ranks (FSDP over all three):
 * compared with the same sums and minimum done in Java longs.
 */
class CommShardGroupTest {
    private static final int WORLD = 3;

    /** What each rank contributes: just past 2^24, where float32 stops holding every integer, and far past it. */
    private static long[] counts(int rank) {
        return new long[] {(1L << 24) + 1 + rank, (1L << 40) + 3 * rank + 1, 7 - 5L * rank, 0};
    }

    @Test
    void countsAndMinimaAreExactBeyondFloat32() throws Exception {
        List<long[][]> byRank = onGroups((rank, group) -> {
            long[] mine = counts(rank);
            long[] sums = new long[mine.length];
            long[] minima = new long[mine.length];
            for (int i = 0; i < mine.length; i++) {
                sums[i] = group.countAll(mine[i]);
                minima[i] = group.minAll(mine[i]);
            }
            return new long[][] {sums, minima};
        });
        for (int i = 0; i < counts(0).length; i++) {
            long sum = 0;
            long min = Long.MAX_VALUE;
            for (int r = 0; r < WORLD; r++) {
                sum += counts(r)[i];
                min = Math.min(min, counts(r)[i]);
            }
            for (int r = 0; r < WORLD; r++) {
                assertEquals(sum, byRank.get(r)[0][i], "sum of value " + i + " on rank " + r);
                assertEquals(min, byRank.get(r)[1][i], "minimum of value " + i + " on rank " + r);
            }
        }
    }

    private interface GroupBody<T> {
        T run(int rank, ShardGroup group) throws Exception;
    }

    private static <T> List<T> onGroups(GroupBody<T> body) throws Exception {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(WORLD);
        try {
            List<Future<T>> ranks = new ArrayList<>();
            for (int r = 0; r < WORLD; r++) {
                int rank = r;
                ranks.add(threads.submit(() -> {
                    CommConfig config = CommConfig.builder().rank(rank).worldSize(WORLD).peers(List.of())
                            .secret(secret).timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator world = Communicators.create(config);
                            NDManager manager = NDManager.newBaseManager()) {
                        Communicator shard = world.split(new int[] {0, 1, 2});
                        Communicator replicate = world.split(new int[] {rank});
                        return body.run(rank, new CommShardGroup(shard, replicate, world, manager));
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : ranks) {
                out.add(f.get(60, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            threads.shutdownNow();
        }
    }
}
