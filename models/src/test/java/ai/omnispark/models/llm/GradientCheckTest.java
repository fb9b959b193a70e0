package ai.omnispark.models.llm;

import ai.omnispark.models.testing.ShardGradients;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.decoder.FiniteDifferences;
import ai.omnispark.models.decoder.PackedRows;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.fsdp.CommShardGroup;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The engine's gradients against central finite differences of the loss, in float64, for every
 * element of every parameter tensor, on packed rows, with recompute off and on every segment; and
 * the FSDP path's sharded gradients against those.
 */
class GradientCheckTest {
    private static final int SEQ = 9;
    private static final int BLOCK = 4;
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    /**
     * Each element: |finite difference - analytic| <= ATOL + RTOL * |finite difference|. Central
     * differences with h = 1e-5 in float64 err by about h^2 times the third derivative plus
     * 1e-16 * loss / h, both far below these bounds; a wrong term in any one element is not.
     */
    private static final double RTOL = 2e-7;
    private static final double ATOL = 2e-9;

    /**
     * Attention runs on the path each row forces: sdpa (the fused kernel), chunked (the fallback,
     * blocks of {@link #BLOCK} so the packed rows of {@link #SEQ} cross block edges), eager (the
     * reference), auto with dropout (eager, the only path that applies the masks). lossChunk: tokens
     * per chunk of the loss head (0 = auto, one chunk here; 4 and 5 split 18 tokens unevenly).
     */
    @ParameterizedTest(name = "{0} tied={1} bias={2} dropout={3} recompute={4} attention={5} lossChunk={6}")
    @CsvSource({"qwen3,true,false,0,false,sdpa,0", "qwen3,true,false,0,true,sdpa,0", "qwen2,false,false,0,false,sdpa,0",
        "qwen2,false,false,0,true,sdpa,0", "llama,false,false,0,true,sdpa,0", "llama,true,false,0,false,sdpa,0",
        "llama,false,true,0,false,sdpa,0", "llama,true,true,0,true,sdpa,0", "qwen3,false,false,0.3,true,auto,0",
        "qwen3,true,false,0,false,chunked,0", "qwen2,false,false,0,true,chunked,0", "llama,false,true,0,false,chunked,0",
        "qwen3,true,false,0,true,eager,0", "qwen3,true,false,0,false,sdpa,4", "qwen3,false,false,0,true,sdpa,4",
        "llama,true,true,0,true,sdpa,5"})
    void gradientsMatchFiniteDifferences(String family, boolean tied, boolean bias, double dropout, boolean recompute,
            String attention, int lossChunk) {
        DecoderConfig config = TinyModels.tiny(family, tied, bias, dropout);
        DecoderLM model = new DecoderLM(config, AttentionImpl.parse(attention), BLOCK, lossChunk);
        int[][] rows = PackedRows.columns(SEQ, config.vocabSize(), 7);
        Set<String> checked = new HashSet<>();
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyModels.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows,
                    recompute ? Recompute.all() : Recompute.none());
            double worst = FiniteDifferences.check(params, model.units(),
                    () -> TinyModels.loss(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows), ATOL, RTOL, checked);
            System.out.printf("%s tied=%s bias=%s dropout=%s recompute=%s attention=%s lossChunk=%d: worst element "
                    + "error %.2f of its bound%n", family, tied, bias, dropout, recompute, attention, lossChunk, worst);
        } finally {
            model.close();
        }
        if (bias && family.equals("llama")) {
            assertTrue(checked.contains(DecoderNames.layer(0, "self_attn.o_proj.bias")), "o_proj.bias not checked: " + checked);
        }
        assertEquals(tied, !checked.contains("lm_head.weight"), "lm_head.weight checked: " + checked.contains("lm_head.weight"));
    }

    /**
     * The FSDP path: two ranks (threads joined in-process) each run forward and backward on their
     * own row in float32 with the loss normalised by both rows' tokens; the reduce-scattered shard
     * gradients must equal, element by element, the float64 single-rank gradients that
     * {@link #gradientsMatchFiniteDifferences} checks against finite differences, within float32
     * rounding: |fsdp - reference| <= 1e-5 (|reference| + the largest |reference| of the unit).
     */
    @ParameterizedTest(name = "{0} tied={1} bias={2} recompute={3} attention={4} lossChunk={5}")
    @CsvSource({"qwen3,true,false,false,sdpa,0", "qwen3,true,false,true,sdpa,0", "llama,false,true,false,sdpa,0",
        "llama,true,true,true,sdpa,0", "qwen3,true,false,false,chunked,0", "qwen3,true,false,false,sdpa,4",
        "qwen3,false,false,true,sdpa,2"})
    void fsdpShardGradientsMatchOneRank(String family, boolean tied, boolean bias, boolean recompute, String attention,
            int lossChunk) throws Exception {
        DecoderConfig config = TinyModels.tiny(family, tied, bias, 0);
        // One model, so its SDPA modules serve the reference and both rank threads.
        DecoderLM model = new DecoderLM(config, AttentionImpl.parse(attention), BLOCK, lossChunk);
        int[][] rows = PackedRows.columns(SEQ, config.vocabSize(), 7);
        Recompute mode = recompute ? Recompute.all() : Recompute.none();
        Map<String, double[]> reference = new HashMap<>();
        try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
            TinyModels.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64, SEQ, rows, mode);
            for (UnitLayout unit : model.units()) {
                reference.put(unit.name(), params.grad(unit.name()).toDoubleArray());
            }
        }
        double tokens = DecoderBatch.lossTokens(rows[1]);
        int world = 2;
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        try {
            List<Future<Integer>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int me = r;
                ranks.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(me).worldSize(world).peers(List.of())
                            .secret(secret).timeout(Duration.ofSeconds(60))
                            .transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(me).worldSize(world).threads(1).build()) {
                        ctx.bindThread();
                        CommShardGroup group = new CommShardGroup(comm.split(new int[] {0, 1}),
                                comm.split(new int[] {me}), comm, ctx.manager());
                        try (FsdpParams params = new FsdpParams(ctx.manager(), model.units(), DataType.FLOAT32, 3,
                                group); NDManager scope = ctx.manager().newSubManager()) {
                            int[][] mine = new int[4][];
                            for (int k = 0; k < 4; k++) {
                                mine[k] = Arrays.copyOfRange(rows[k], me * SEQ, (me + 1) * SEQ);
                            }
                            Batch batch = TinyModels.batch(scope, config,
                                    DataType.FLOAT32, SEQ, mine);
                            NDList seeds = new NDList(
                                    scope.create(1.0 / tokens).toType(DataType.FLOAT32, false));
                            new SegmentEngine(model.trainingSegments(), model.units(),
                                    mode).forwardBackward(scope, batch, new NDList(), seeds, params);
                            int compared = (int) ShardGradients.assertMatch(me, model.units(), params, reference, 1e-5);
                            return compared;
                        }
                    }
                }));
            }
            long compared = 0;
            for (Future<Integer> f : ranks) {
                compared += f.get(120, TimeUnit.SECONDS);
            }
            long total = 0;
            for (UnitLayout unit : model.units()) {
                total += unit.numel();
            }
            assertEquals(total, compared, "the ranks' shards together cover every gradient element once");
        } finally {
            threads.shutdownNow();
            model.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"qwen3", "qwen2", "llama"})
    void recomputeGivesIdenticalLossAndGradientsInFloat32(String family) {
        DecoderConfig config = TinyModels.tiny(family, false);
        DecoderLM model = new DecoderLM(config);
        int[][] rows = PackedRows.columns(SEQ, config.vocabSize(), 11);
        try (LocalParams kept = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 5);
                LocalParams recomputed = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 5)) {
            double a = TinyModels.lossAndGrad(rank.manager(), model, kept, DataType.FLOAT32, SEQ, rows,
                    Recompute.none());
            double b = TinyModels.lossAndGrad(rank.manager(), model, recomputed, DataType.FLOAT32, SEQ, rows,
                    Recompute.all());
            assertEquals(a, b, 1e-6 * Math.abs(a));
            for (UnitLayout unit : model.units()) {
                float[] ga = kept.grad(unit.name()).toFloatArray();
                float[] gb = recomputed.grad(unit.name()).toFloatArray();
                double num = 0;
                double den = 0;
                for (int i = 0; i < ga.length; i++) {
                    num += (ga[i] - gb[i]) * (double) (ga[i] - gb[i]);
                    den += ga[i] * (double) ga[i];
                }
                assertTrue(den > 0, unit.name() + " got no gradient");
                assertTrue(Math.sqrt(num / den) <= 1e-6, unit.name() + " differs: " + Math.sqrt(num / den));
            }
        }
    }

    /**
     * The whole model in float32 on each fused path against the eager path (today's materialised
     * attention) on the same packed rows: loss within 1e-6 relative, every gradient element within
     * 1e-5 (|eager| + the largest |eager| of its unit).
     */
    @ParameterizedTest(name = "{0} attention={1} packed={2}")
    @CsvSource({"qwen3,sdpa,true", "qwen3,chunked,true", "llama,sdpa,true", "llama,chunked,true", "qwen2,sdpa,true",
        "qwen3,sdpa,false", "qwen3,chunked,false"})
    void fusedPathsMatchEagerInFloat32(String family, String attention, boolean packed) {
        DecoderConfig config = TinyModels.tiny(family, false, true, 0);
        int[][] rows = PackedRows.columns(SEQ, config.vocabSize(), 13);
        if (!packed) {
            // One document per row and no padding: the batch carries no doc ids and SDPA runs is_causal.
            for (int i = 0; i < rows[0].length; i++) {
                rows[0][i] = (i * 7 + 3) % config.vocabSize();
                rows[2][i] = i % SEQ;
                rows[3][i] = 0;
            }
            for (int i = 0; i < rows[0].length; i++) {
                rows[1][i] = (i + 1) % SEQ == 0 ? DecoderBatch.IGNORE : rows[0][i + 1];
            }
            try (NDManager scope = rank.manager().newSubManager()) {
                assertTrue(!TinyModels.batch(scope, config, DataType.FLOAT32, SEQ, rows).has(DecoderBatch.DOC_IDS),
                        "single-document rows still carry doc ids");
            }
        }
        try (DecoderLM eager = new DecoderLM(config, AttentionImpl.EAGER);
                DecoderLM fused = new DecoderLM(config, AttentionImpl.parse(attention), BLOCK);
                LocalParams eagerParams = new LocalParams(rank.manager(), eager.units(), DataType.FLOAT32, 5);
                LocalParams fusedParams = new LocalParams(rank.manager(), fused.units(), DataType.FLOAT32, 5)) {
            double a = TinyModels.lossAndGrad(rank.manager(), eager, eagerParams, DataType.FLOAT32, SEQ, rows,
                    Recompute.none());
            double b = TinyModels.lossAndGrad(rank.manager(), fused, fusedParams, DataType.FLOAT32, SEQ, rows,
                    Recompute.none());
            assertEquals(a, b, 1e-6 * Math.abs(a), "loss");
            for (UnitLayout unit : eager.units()) {
                float[] want = eagerParams.grad(unit.name()).toFloatArray();
                float[] got = fusedParams.grad(unit.name()).toFloatArray();
                double largest = 0;
                for (float g : want) {
                    largest = Math.max(largest, Math.abs(g));
                }
                assertTrue(largest > 0, unit.name() + " got no gradient");
                for (int i = 0; i < want.length; i++) {
                    assertTrue(Math.abs(got[i] - want[i]) <= 1e-5 * (Math.abs(want[i]) + largest),
                            unit.name() + "[" + i + "]: " + attention + " " + got[i] + ", eager " + want[i]);
                }
            }
        }
    }
}
