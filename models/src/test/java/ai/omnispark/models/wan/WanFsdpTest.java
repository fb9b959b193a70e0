package ai.omnispark.models.wan;

import ai.omnispark.models.testing.ShardGradients;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.DiffusionOptions;
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
 * FSDP over the family's units (embed, each block, head gathered and reduce-scattered on its own):
 * W ranks (threads, in-process transport), each running one micro-batch of two latent rows of its
 * own, collated with noise, gaussian timestep weights and text dropout 0.5 from generator (seed, r),
 * in float32, against one rank accumulating the same W micro-batches (the same draws) in float64.
 * The summed losses agree within 1e-5 relative, every reduce-scattered gradient element within 1e-5
 * (|one rank| + the largest |one rank| of its unit), and the shards together cover every element
 * once. (The trainer-level runs are WanTrainingTest's: there each rank draws from its own generator,
 * so N ranks are compared with DDP on N ranks.)
 */
class WanFsdpTest {
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

    private static final long SEED = 41;

    @ParameterizedTest(name = "world={0} recompute={1} i2v={2}")
    @CsvSource({"2,false,false", "4,true,true"})
    void shardGradientsMatchOneRank(int world, boolean recompute, boolean i2v) throws Exception {
        Recompute mode = recompute ? Recompute.all() : Recompute.none();
        long global = world * 2L;
        DiffusionOptions diffusion = new DiffusionOptions(3.0, DiffusionOptions.GAUSSIAN, 0.5);
        Map<String, double[]> reference = new HashMap<>();
        double referenceLoss = 0;
        // One model, so its attention kernels serve the reference and every rank thread.
        try (WanModel model = TinyWan.model(i2v, "sdpa", diffusion)) {
            try (LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 3)) {
                for (int r = 0; r < world; r++) {
                    referenceLoss += TinyWan.lossAndGrad(rank.manager(), model, params, DataType.FLOAT64,
                            TinyWan.samples(2, i2v, 100 + r), SEED, r, global, mode);
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
                                double loss = TinyWan.lossAndGrad(ctx.manager(), model, params, DataType.FLOAT32,
                                        TinyWan.samples(2, i2v, 100 + me), SEED, me, global, mode);
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
                assertEquals(referenceLoss, loss, 1e-5 * Math.abs(referenceLoss), "summed weighted MSE");
                assertEquals(model.parameterCount(), compared, "the shards together cover every gradient element once");
                System.out.printf("wan FSDP %d (recompute %s, i2v %s): loss %.9f vs one rank %.9f%n", world, recompute,
                        i2v, loss / global, referenceLoss / global);
            } finally {
                threads.shutdownNow();
            }
        }
    }
}
