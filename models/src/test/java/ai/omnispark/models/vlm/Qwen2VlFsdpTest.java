package ai.omnispark.models.vlm;

import ai.omnispark.models.testing.ShardGradients;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.fsdp.CommShardGroup;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * FSDP over the family's units (each ViT block, the merger, each decoder layer gathered and
 * reduce-scattered on its own): W ranks (threads, in-process transport), each running one
 * micro-batch (the tiny rows with its own pixels) in float32, against one rank accumulating all W
 * micro-batches in float64. The summed losses agree within 1e-5 relative, every reduce-scattered
 * gradient element within 1e-5 (|one rank| + the largest |one rank| of its unit), and the shards
 * together cover every element once. The trainer-level run (loss, grad norm, weights over steps)
 * waits for v2's collator.
 */
class Qwen2VlFsdpTest {
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

    @ParameterizedTest(name = "world={0} recompute={1}")
    @CsvSource({"2,false", "4,true"})
    void shardGradientsMatchOneRank(int world, boolean recompute) throws Exception {
        Recompute mode = recompute ? Recompute.all() : Recompute.none();
        long global = world * TinyVlm.labelled();
        Map<String, double[]> reference = new HashMap<>();
        double referenceLoss = 0;
        // One model, so its attention kernels serve the reference and every rank thread.
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(false), "sdpa")) {
            VisionConfig v = model.config().vision();
            try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
                for (int r = 0; r < world; r++) {
                    referenceLoss += TinyVlm.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64,
                            TinyVlm.pixels(v, 100 + r), mode, global);
                }
                for (UnitLayout unit : model.units()) {
                    reference.put(unit.name(), params.grad(unit.name()).toDoubleArray());
                }
            }
            byte[] secret = new byte[32];
            new SecureRandom().nextBytes(secret);
            int[] all = new int[world];
            for (int r = 0; r < world; r++) {
                all[r] = r;
            }
            ExecutorService threads = Executors.newFixedThreadPool(world);
            try {
                List<Future<double[]>> ranks = new ArrayList<>();
                for (int r = 0; r < world; r++) {
                    int me = r;
                    ranks.add(threads.submit(() -> {
                        CommConfig cc = CommConfig.builder().rank(me).worldSize(world).peers(List.of())
                                .secret(secret).timeout(Duration.ofSeconds(60)).transport(Transport.IN_PROCESS).build();
                        try (Communicator comm = Communicators.create(cc);
                                RankContext ctx = RankContext.builder().rank(me).worldSize(world).threads(1).build()) {
                            ctx.bindThread();
                            CommShardGroup group = new CommShardGroup(comm.split(all), comm.split(new int[] {me}), comm,
                                    ctx.manager());
                            try (FsdpParams params = new FsdpParams(ctx.manager(), model.units(), DataType.FLOAT32, 3,
                                    group)) {
                                double loss = TinyVlm.lossAndGrad(ctx.manager(), model, params, DataType.FLOAT32,
                                        TinyVlm.pixels(v, 100 + me), mode, global);
                                long compared = ShardGradients.assertMatch(me, model.units(), params, reference, 1e-5);
                                return new double[] {loss, compared};
                            }
                        }
                    }));
                }
                double loss = 0;
                long compared = 0;
                for (Future<double[]> f : ranks) {
                    double[] out = f.get(300, TimeUnit.SECONDS);
                    loss += out[0];
                    compared += (long) out[1];
                }
                assertEquals(referenceLoss, loss, 1e-5 * Math.abs(referenceLoss), "summed cross-entropy");
                assertEquals(model.parameterCount(), compared, "the shards together cover every gradient element once");
                System.out.printf("qwen2_vl FSDP %d (recompute %s): loss %.9f vs one rank %.9f%n", world, recompute,
                        loss / global, referenceLoss / global);
            } finally {
                threads.shutdownNow();
            }
        }
    }
}
