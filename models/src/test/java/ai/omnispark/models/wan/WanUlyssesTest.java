package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.nn.ulysses.SequenceShards;
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
import ai.omnispark.parallel.runtime.RankRandom;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Ulysses for the Wan DiT at the model level (float32: the communicators carry no float64), without the trainer: P ranks (threads with
 * in-process communicators) each collate the same two samples through the plan's collator (their
 * slice of the patch tokens), run the plan's segments (five per block, the exchanges between) and
 * seed the loss as the trainer does; the sum of their losses and of their parameter gradients equals
 * the one-rank forward/backward of the whole samples (TinyWan: 8 patch tokens a sample, 2 heads)
 * within 1e-5 relative (gradients: of the unit's largest). T2V at P = 2 (eager attention; with
 * recompute, chunked) and I2V at P = 2 (sdpa; the image context whole on every rank). A latent
 * whose tokens P does not divide is refused, naming the count.
 */
class WanUlyssesTest {
    private static final double TOLERANCE = 1e-5;
    private static final long SEED = 11;

    @Test
    void sp2T2vMatchesOneRank() throws Exception {
        check(false, 2, false, "eager");
        check(false, 2, true, "chunked");
    }

    @Test
    void sp2I2vMatchesOneRank() throws Exception {
        check(true, 2, false, "sdpa");
    }

    @Test
    void tokensNotDivisibleBySpAreRefused() {
        WanConfig config = WanConfigJson.parse(TinyWan.json(false));
        Sample s = TinyWan.samples(1, false, 1).get(0);
        assertEquals(8, WanPatchTokens.tokens(s, config, 4));
        String msg = assertThrows(IllegalArgumentException.class, () -> WanPatchTokens.tokens(s, config, 3))
                .getMessage();
        assertTrue(msg.contains("8 tokens") && msg.contains("ulysses size (3)"), msg);
    }

    /** Loss and every unit's gradient of one rank. */
    private record Result(double loss, Map<String, double[]> grads) {}

    private static void check(boolean i2v, int p, boolean recompute, String attention) throws Exception {
        List<Sample> samples = TinyWan.samples(2, i2v, 5);
        Result one = run(i2v, null, 0, 1, samples, recompute, attention);
        List<Result> ranks = onRanks(p, (comm, ctxRank) -> run(i2v, comm, ctxRank, p, samples, recompute, attention));
        double loss = 0;
        for (Result r : ranks) {
            loss += r.loss();
        }
        assertEquals(one.loss(), loss, TOLERANCE * Math.abs(one.loss()), "loss");
        double worst = 0;
        for (String unit : one.grads().keySet()) {
            double[] want = one.grads().get(unit);
            double scale = 0;
            for (double g : want) {
                scale = Math.max(scale, Math.abs(g));
            }
            for (int i = 0; i < want.length; i++) {
                double sum = 0;
                for (Result r : ranks) {
                    sum += r.grads().get(unit)[i];
                }
                double err = Math.abs(sum - want[i]) / scale;
                worst = Math.max(worst, err);
                assertTrue(err <= TOLERANCE, "i2v=" + i2v + " sp" + p + " " + unit + "[" + i + "]: " + sum + " vs "
                        + want[i]);
            }
        }
        System.out.printf("wan i2v=%b sp%d recompute=%b: loss %.6f, gradients within %.1e of the largest%n", i2v, p,
                recompute, one.loss(), worst);
    }

    private static Result run(boolean i2v, Communicator sp, int rank, int p, List<Sample> samples, boolean recompute,
            String attention) throws Exception {
        try (RankContext ctx = RankContext.builder().rank(rank).worldSize(p).threads(1).build();
                WanModel model = TinyWan.model(i2v, attention, DiffusionOptions.defaults());
                LocalParams params = new LocalParams(ctx.manager(), model.units(), DataType.FLOAT32, 3)) {
            ctx.bindThread();
            TinyWan.randomize(params, model.units(), 17);
            List<Segment> segments = new ArrayList<>();
            for (Segment s : model.trainingSegments()) {
                if (sp != null && s instanceof WanBlockSegment b) {
                    segments.addAll(b.ulysses(sp));
                } else {
                    segments.add(s);
                }
            }
            var collator = sp == null ? model.collator() : new SequenceShards(new WanPatchTokens(model.collator(),
                    model.config()), sp.rank(), p, WanPatchTokens::split, s -> WanPatchTokens.tokens(s, model.config(), p));
            try (NDManager scope = ctx.manager().newSubManager()) {
                Batch batch = collator.collate(scope, samples, DataType.FLOAT32, new RankRandom(SEED, 0));
                List<String> recorded = new ArrayList<>();
                for (Segment s : segments) {
                    recorded.add(s.name());
                }
                SegmentEngine engine = new SegmentEngine(segments, model.units(),
                        recompute ? Recompute.named(new java.util.HashSet<>(recorded)) : Recompute.none());
                double loss = engine.forwardBackward(scope, batch, new NDList(), model.objective().seeds(scope,
                        samples.size(), DataType.FLOAT32), params).singletonOrThrow().toType(DataType.FLOAT64, false).getDouble();
                Map<String, double[]> grads = new LinkedHashMap<>();
                for (UnitLayout u : model.units()) {
                    grads.put(u.name(), params.grad(u.name()).toType(DataType.FLOAT64, false).toDoubleArray());
                }
                return new Result(loss, grads);
            }
        }
    }

    private interface RankBody {
        Result run(Communicator comm, int rank) throws Exception;
    }

    private static List<Result> onRanks(int p, RankBody body) throws Exception {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(p);
        try {
            List<Future<Result>> futures = new ArrayList<>();
            for (int r = 0; r < p; r++) {
                int me = r;
                futures.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(me).worldSize(p).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(cc)) {
                        return body.run(comm, me);
                    }
                }));
            }
            List<Result> out = new ArrayList<>();
            for (Future<Result> f : futures) {
                out.add(f.get(120, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            threads.shutdownNow();
        }
    }
}
