package ai.omnispark.models.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The five expert-parallel segments of one sparse layer (Qwen2-MoE: 4 experts, top-2, shared
 * expert) on 2 in-process ranks, each with its own tokens, against the plain {@link MoeMlp} on one
 * rank: the MLP is per token, so each rank's outputs must equal {@link MoeMlp}'s on the same
 * tokens, and the parameter gradients summed over the ranks must equal {@link MoeMlp}'s summed over
 * both ranks' tokens. Once with the checkpoint's random router, and once with a router that sends
 * every token to experts 0 and 1, so rank 1 (experts 2 and 3) receives no row at all, with recompute.
 */
class ExpertParallelMlpTest {
    private static final int WORLD = 2;
    private static final long SEED = 5;

    private record RankResult(float[] epOut, float[] refOut, Map<String, float[]> epGrads, Map<String, float[]> refGrads,
            long received) {}

    @Test
    void matchesTheWholeMlpWithARandomRouter() throws Exception {
        run(false, false);
    }

    @Test
    void aRankWhoseExpertsGetNoTokenStillTakesPartWithRecompute() throws Exception {
        run(true, true);
    }

    private static void run(boolean skewed, boolean recompute) throws Exception {
        ObjectNode json = TinyMoe.json("qwen2_moe", false);
        json.put("output_router_logits", false);
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(WORLD);
        List<Future<RankResult>> futures = new ArrayList<>();
        try {
            for (int r = 0; r < WORLD; r++) {
                int rank = r;
                futures.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(rank).worldSize(WORLD).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator ep = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(rank).worldSize(WORLD).threads(1).build();
                            MoeLM model = TinyMoe.model(json, "eager")) {
                        ctx.bindThread();
                        return rank(ctx.manager(), ep, model, rank, skewed, recompute);
                    }
                }));
            }
            List<RankResult> results = new ArrayList<>();
            for (Future<RankResult> f : futures) {
                results.add(f.get(60, TimeUnit.SECONDS));
            }
            if (skewed) {
                assertEquals(0, results.get(1).received(), "rank 1's experts get no token under the skewed router");
            } else {
                assertTrue(results.get(1).received() > 0, "both ranks' experts get tokens under the random router");
            }
            double worst = 0;
            for (RankResult r : results) {
                worst = Math.max(worst, maxDiff(r.refOut(), r.epOut()));
            }
            assertTrue(worst <= 1e-6, "outputs differ by " + worst);
            Map<String, float[]> ep = sum(results.get(0).epGrads(), results.get(1).epGrads());
            Map<String, float[]> ref = sum(results.get(0).refGrads(), results.get(1).refGrads());
            assertEquals(ref.keySet(), ep.keySet());
            for (String unit : ref.keySet()) {
                double diff = maxDiff(ref.get(unit), ep.get(unit));
                double scale = 0;
                for (float v : ref.get(unit)) {
                    scale = Math.max(scale, Math.abs(v));
                }
                assertTrue(diff <= 1e-5 * Math.max(1, scale), unit + " gradient differs by " + diff + " (scale " + scale + ")");
                worst = Math.max(worst, diff);
            }
            System.out.printf("expert-parallel MLP (skewed=%b, recompute=%b) vs MoeMlp: worst difference %.2e%n", skewed,
                    recompute, worst);
        } finally {
            threads.shutdownNow();
        }
    }

    private static RankResult rank(NDManager manager, Communicator ep, MoeLM model, int rank, boolean skewed,
            boolean recompute) {
        MoeConfig config = model.config();
        assertTrue(config.sparse(0) && config.sharedExpert());
        long h = config.hiddenSize();
        Random random = new Random(100 + rank);
        float[] x = new float[(int) (2 * 5 * h)];
        float[] g = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            // Positive hidden states: with the skewed router every token prefers experts 0 and 1.
            x[i] = skewed ? 0.5f + random.nextFloat() : (float) random.nextGaussian();
            g[i] = (float) random.nextGaussian();
        }
        Map<String, float[]> epGrads = new HashMap<>();
        Map<String, float[]> refGrads = new HashMap<>();
        float[] epOut;
        float[] refOut;
        long received;
        try (LocalParams epParams = params(manager, model, skewed);
                LocalParams refParams = params(manager, model, skewed);
                NDManager scope = manager.newSubManager()) {
            List<Segment> segments = ExpertParallelMlp.segments(config, 0, ep, new RouterMetrics(config));
            Batch batch = new Batch();
            epOut = forwardBackward(scope, segments, model, recompute, batch, x, g, epParams);
            received = ExpertExchange.sum(batch.get(ExpertParallelMlp.receivedKey(0)).toLongArray());
            refOut = forwardBackward(scope, List.of(new MoeMlp(config, 0, new RouterMetrics(config))), model, false, new Batch(), x, g, refParams);
            for (UnitLayout u : model.units()) {
                epGrads.put(u.name(), epParams.grad(u.name()).toFloatArray());
                refGrads.put(u.name(), refParams.grad(u.name()).toFloatArray());
            }
        }
        return new RankResult(epOut, refOut, epGrads, refGrads, received);
    }

    private static float[] forwardBackward(NDManager scope, List<Segment> segments, MoeLM model, boolean recompute,
            Batch batch, float[] x, float[] g, LocalParams params) {
        long h = model.config().hiddenSize();
        NDArray input = scope.create(x, new Shape(2, 5, h));
        NDArray seed = scope.create(g, new Shape(2, 5, h));
        SegmentEngine engine = new SegmentEngine(segments, model.units(), recompute ? Recompute.all() : Recompute.none());
        NDList out = engine.forwardBackward(scope, batch, new NDList(input), new NDList(seed), params);
        return out.singletonOrThrow().toFloatArray();
    }

    /** The model's initial weights; with {@code skewed} a router whose logits favour experts 0 and 1 for positive inputs. */
    private static LocalParams params(NDManager manager, MoeLM model, boolean skewed) {
        LocalParams params = new LocalParams(manager, model.units(), DataType.FLOAT32, SEED);
        if (skewed) {
            int e = model.config().numExperts();
            long h = model.config().hiddenSize();
            float[] gate = new float[(int) (e * h)];
            for (int j = 0; j < e; j++) {
                for (int i = 0; i < h; i++) {
                    gate[(int) (j * h + i)] = j == 0 ? 1f : j == 1 ? 0.5f : -1f;
                }
            }
            try (NDManager tmp = manager.newSubManager()) {
                params.setParam(DecoderNames.unit(0), DecoderNames.layer(0, "mlp.gate.weight"),
                        tmp.create(gate, new Shape(e, h)));
            }
        }
        return params;
    }

    private static Map<String, float[]> sum(Map<String, float[]> a, Map<String, float[]> b) {
        Map<String, float[]> out = new HashMap<>();
        for (String k : a.keySet()) {
            float[] s = a.get(k).clone();
            for (int i = 0; i < s.length; i++) {
                s[i] += b.get(k)[i];
            }
            out.put(k, s);
        }
        return out;
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }
}
