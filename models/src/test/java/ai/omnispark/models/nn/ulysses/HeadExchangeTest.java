package ai.omnispark.models.nn.ulysses;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
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
 * Ulysses' all-to-all against the layout change written as plain indexing on one host: each of P
 * ranks (threads, in-process transport) holds tokens chunk r of full operands [B, H, S, D] whose
 * every element is distinct; after {@link HeadExchange#toHeads} it must hold exactly heads chunk r
 * of every token (the reference slices the full tensor directly), and {@link HeadExchange#toTokens}
 * must bring back exactly what it held. q and k differ in heads (grouped-query) and travel together.
 */
class HeadExchangeTest {
    private static final long B = 2;
    private static final long S = 12;
    private static final long D = 3;

    @Test
    void twoRanksMatchDirectSlicing() throws Exception {
        exchangeMatchesSlicing(2, 4, 2);
    }

    @Test
    void fourRanksMatchDirectSlicing() throws Exception {
        exchangeMatchesSlicing(4, 8, 4);
    }

    @Test
    void kvHeadsAreRepeatedSoEveryRankKeepsItsQueryGroups() {
        // 8 query heads, 2 kv heads, 4 ranks: each kv head twice; rank r's query heads 2r, 2r+1 use
        // kv head r / 2 in the model, and its one repeated kv head must be that one.
        SelfAttentionBlock.Spec spec = new SelfAttentionBlock.Spec(8, 2, 4, 1e-6, false, false, false);
        assertEquals(2, UlyssesAttention.kvRepeat(spec, 4));
        assertEquals(1, UlyssesAttention.kvRepeat(spec, 2));
        assertEquals(4, UlyssesAttention.kvRepeat(new SelfAttentionBlock.Spec(8, 1, 4, 1e-6, false, false, false), 4));
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray kv = m.arange(0f, 2f * 3).reshape(1, 2, 3, 1);
            NDArray repeated = UlyssesAttention.repeatHeads(kv, 2);
            assertEquals(new Shape(1, 4, 3, 1), repeated.getShape());
            assertArrayEquals(new float[] {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, repeated.toFloatArray());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UlyssesAttention.kvRepeat(new SelfAttentionBlock.Spec(6, 2, 4, 1e-6, false, false, false), 4));
        assertTrue(e.getMessage().contains("num_attention_heads (6)") && e.getMessage().contains("ulysses size (4)"),
                e.getMessage());
    }

    private static void exchangeMatchesSlicing(int p, long qHeads, long kHeads) throws Exception {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(p);
        try {
            List<Future<Integer>> ranks = new ArrayList<>();
            for (int r = 0; r < p; r++) {
                int me = r;
                ranks.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(me).worldSize(p).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(me).worldSize(p).threads(1).build()) {
                        ctx.bindThread();
                        NDManager m = ctx.manager();
                        NDArray q = full(m, qHeads, 0);
                        NDArray k = full(m, kHeads, 100_000);
                        long chunk = S / p;
                        NDList local = new NDList(q.get(":, :, {}:{}", me * chunk, (me + 1) * chunk),
                                k.get(":, :, {}:{}", me * chunk, (me + 1) * chunk));
                        NDList heads = HeadExchange.toHeads(m, local, comm);
                        assertEquals(new Shape(B, qHeads / p, S, D), heads.get(0).getShape());
                        assertArrayEquals(q.get(":, {}:{}", me * qHeads / p, (me + 1) * qHeads / p).toFloatArray(),
                                heads.get(0).toFloatArray(), "rank " + me + ": q heads chunk");
                        assertArrayEquals(k.get(":, {}:{}", me * kHeads / p, (me + 1) * kHeads / p).toFloatArray(),
                                heads.get(1).toFloatArray(), "rank " + me + ": k heads chunk");
                        NDList back = HeadExchange.toTokens(m, heads, comm);
                        for (int i = 0; i < 2; i++) {
                            assertEquals(local.get(i).getShape(), back.get(i).getShape());
                            assertArrayEquals(local.get(i).toFloatArray(), back.get(i).toFloatArray(),
                                    "rank " + me + ": operand " + i + " back to tokens");
                        }
                        return me;
                    }
                }));
            }
            for (Future<Integer> f : ranks) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    /** [B, heads, S, D] whose elements are offset + their flat index: every element distinct. */
    private static NDArray full(NDManager m, long heads, float offset) {
        return m.arange(offset, offset + B * heads * S * D).reshape(B, heads, S, D);
    }
}
