package ai.omnispark.models.nn.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.parallel.runtime.RankContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two rank threads of one JVM run the same SDPA modules at once, one recording gradients and one
 * with grad mode off, as ranks do when one trains and another evaluates: each must get the float64
 * reference's numbers (and the recording one its gradients), and the non-recording one no graph.
 */
class AttentionConcurrencyTest {
    private static final int ROUNDS = 20;

    @Test
    void twoRankThreadsShareTheModulesUnderTheirOwnGradModes() throws Exception {
        AttentionCase packed = new AttentionCase(8, 2, 45, 16, true, true, 5);
        AttentionCase plain = new AttentionCase(4, 4, 45, 16, true, false, 6);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        CyclicBarrier together = new CyclicBarrier(2);
        try (Attention attention = new Attention(AttentionImpl.SDPA)) {
            List<Future<Integer>> ranks = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int me = r;
                ranks.add(threads.submit(() -> {
                    try (RankContext ctx = RankContext.builder().rank(me).worldSize(2).threads(1).build()) {
                        ctx.bindThread();
                        for (int round = 0; round < ROUNDS; round++) {
                            together.await(60, TimeUnit.SECONDS);
                            // Both signatures on both threads, with the grad modes swapping each round.
                            boolean record = (me + round) % 2 == 0;
                            packed.check(attention, ctx.manager(), record, "rank " + me + " round " + round);
                            plain.check(attention, ctx.manager(), !record, "rank " + me + " round " + round);
                        }
                        return ROUNDS;
                    }
                }));
            }
            for (Future<Integer> f : ranks) {
                assertEquals(ROUNDS, f.get(120, TimeUnit.SECONDS));
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
