package ai.omnispark.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.UnitLayout;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * FSDP (and HSDP) over in-process ranks with a frozen unit between two trainable ones equals one
 * rank given the sum of every rank's gradients: same gradient norm, same trained weights within
 * 1e-6, and the frozen unit, gathered whole on every rank, exactly its initial weights.
 */
class FrozenFsdpTest {
    private static final long SEED = 21;
    private static final int STEPS = 3;
    private static final AdamW.Config CFG = new AdamW.Config(0.9, 0.95, 1e-8, 0.1);

    private static final List<UnitLayout> UNITS = List.of(
            new UnitLayout("embed", List.of(ParamSpec.of("embed.weight", Init.normal(0.02), 7, 5))),
            new UnitLayout("base", List.of(
                    new ParamSpec("base.w", new Shape(5, 6), Init.normal(0.5), true, false),
                    new ParamSpec("base.bias", new Shape(6), Init.normal(0.1), false, false))),
            new UnitLayout("adapter", List.of(ParamSpec.of("adapter.a", Init.normal(0.3), 2, 5),
                    ParamSpec.of("adapter.b", Init.normal(0.1), 3))));

    /** Data-parallel rank {@code dpRank}'s gradient of {@code unit} at {@code step}. */
    private static float[] grad(UnitLayout unit, int step, int dpRank) {
        Random r = new Random(unit.name().hashCode() * 31L + step * 7L + dpRank * 1009L);
        float[] g = new float[(int) unit.numel()];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) r.nextGaussian();
        }
        return g;
    }

    /** What a run ends with: every unit's full weights, the norm of each step, the initial frozen weights. */
    private record Outcome(List<float[]> weights, double[] norms, float[] baseInitially, boolean baseHasState) {}

    /** One rank given the sum of all {@code world} ranks' gradients. */
    private static Outcome single(int world) {
        try (NDManager manager = NDManager.newBaseManager();
                ParamStore store = ParamStores.build(manager, UNITS, DataType.FLOAT32, SEED, null, true);
                AdamW opt = new AdamW(manager, CFG)) {
            float[] base0 = store.ownedWeights("base");
            double[] norms = new double[STEPS];
            for (int step = 1; step <= STEPS; step++) {
                try (NDManager scope = manager.newSubManager()) {
                    for (int u = UNITS.size() - 1; u >= 0; u--) {
                        for (int d = 0; d < world; d++) {
                            store.accumulateGrad(UNITS.get(u).name(), scope.create(grad(UNITS.get(u), step, d)));
                        }
                    }
                    norms[step - 1] = store.clipGradNorm(1.0);
                    store.step(opt, 0.05);
                }
            }
            List<float[]> weights = new ArrayList<>();
            for (UnitLayout u : UNITS) {
                weights.add(store.ownedWeights(u.name()));
            }
            return new Outcome(weights, norms, base0, opt.state("base") != null);
        }
    }

    private static Outcome rank(Communicator world, int replicate, int shard, boolean reshard) {
        try (NDManager manager = NDManager.newBaseManager(); DeviceMesh mesh = DeviceMesh.dataParallel(world, replicate,
                shard)) {
            ShardGroup group = mesh.dataParallelGroup(manager);
            int dp = mesh.dataParallelRank();
            try (ParamStore store = ParamStores.build(manager, UNITS, DataType.FLOAT32, SEED, group, reshard);
                    AdamW opt = new AdamW(manager, CFG)) {
                float[] base0;
                try (NDManager scope = manager.newSubManager()) {
                    base0 = store.fullWeights("base", scope).toFloatArray();
                }
                double[] norms = new double[STEPS];
                for (int step = 1; step <= STEPS; step++) {
                    try (NDManager scope = manager.newSubManager()) {
                        // Backward order, as the engine runs it: acquire (gather), hand in the gradient, release.
                        for (int u = UNITS.size() - 1; u >= 0; u--) {
                            String name = UNITS.get(u).name();
                            NDArray full = store.acquire(name, scope);
                            assertEquals(UNITS.get(u).numel(), full.size(), name + " gathered whole");
                            if (name.equals("base")) {
                                assertArrayEquals(base0, full.toFloatArray(), "the frozen unit is gathered as it was");
                            }
                            store.accumulateGrad(name, scope.create(grad(UNITS.get(u), step, dp)));
                            store.release(name);
                        }
                        norms[step - 1] = store.clipGradNorm(1.0);
                        store.step(opt, 0.05);
                    }
                }
                List<float[]> weights = new ArrayList<>();
                try (NDManager scope = manager.newSubManager()) {
                    for (UnitLayout u : UNITS) {
                        weights.add(store.fullWeights(u.name(), scope).toFloatArray());
                    }
                }
                return new Outcome(weights, norms, base0, opt.state("base") != null);
            }
        }
    }

    @ParameterizedTest(name = "replicate {0} x shard {1}, reshard after forward {2}")
    @CsvSource({"1,2,true", "1,2,false", "2,2,true"})
    void shardedRanksWithAFrozenUnitEqualOneRank(int replicate, int shard, boolean reshard) throws Exception {
        int world = replicate * shard;
        Outcome want = single(world);
        assertTrue(want.norms()[0] > 1.0, "the test clips");
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        try {
            List<Future<Outcome>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(threads.submit(() -> {
                    CommConfig config = CommConfig.builder().rank(rank).worldSize(world).peers(List.of())
                            .secret(secret).timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(config)) {
                        return rank(comm, replicate, shard, reshard);
                    }
                }));
            }
            for (int r = 0; r < world; r++) {
                Outcome got = ranks.get(r).get(120, TimeUnit.SECONDS);
                for (int s = 0; s < STEPS; s++) {
                    assertEquals(want.norms()[s], got.norms()[s], 1e-6 * want.norms()[s], "rank " + r + " step " + s);
                }
                for (int u = 0; u < UNITS.size(); u++) {
                    float[] w = want.weights().get(u);
                    float[] g = got.weights().get(u);
                    assertEquals(w.length, g.length);
                    for (int i = 0; i < w.length; i++) {
                        assertEquals(w[i], g[i], 1e-6, "rank " + r + " " + UNITS.get(u).name() + "[" + i + "]");
                    }
                }
                assertArrayEquals(want.baseInitially(), got.weights().get(1), "rank " + r + ": base unchanged");
                assertArrayEquals(want.baseInitially(), got.baseInitially());
                assertEquals(false, got.baseHasState(), "no optimizer state for the frozen unit");
            }
            assertEquals(false, want.baseHasState());
        } finally {
            threads.shutdownNow();
        }
    }
}
