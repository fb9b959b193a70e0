package ai.omnispark.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.UnitLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Units partitioned across ep on a dp_shard 2 x ep 2 mesh (4 in-process ranks): a dense unit every
 * rank shards, and 4 "experts" of which ep coordinate c holds experts 2c and 2c + 1, FSDP-sharded
 * over its 2 dp_shard ranks. Checked against hand-derived values: who holds what, the full weights
 * rank 0 exports (equal to one rank's initialisation, held here or not), and the gradient norm,
 * which must count every expert once (summed over the 2 holders, then across ep) and the dense unit
 * summed over all 4 ranks.
 */
class PartitionedParamsTest {
    private static final int WORLD = 4;
    private static final long SEED = 7;

    private static List<UnitLayout> units() {
        List<UnitLayout> units = new ArrayList<>();
        units.add(new UnitLayout("dense", List.of(ParamSpec.of("dense.w", Init.normal(0.5), 3, 5))));
        for (int e = 0; e < 4; e++) {
            units.add(new UnitLayout("expert." + e, List.of(ParamSpec.of("expert." + e + ".w", Init.normal(0.5), 7)),
                    new UnitLayout.Partition(MeshDims.EP, e, 4)));
        }
        return units;
    }

    @Test
    void holdersShardGatherAndCountEachExpertOnceInTheNorm() throws Exception {
        List<float[]> reference = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch");
                LocalParams one = new LocalParams(m, units(), DataType.FLOAT32, SEED)) {
            for (UnitLayout u : units()) {
                reference.add(one.fullWeights(u.name(), m).toFloatArray());
            }
        }
        byte[] secret = "partitioned".getBytes(StandardCharsets.UTF_8);
        ExecutorService pool = Executors.newFixedThreadPool(WORLD);
        try {
            List<Future<Double>> norms = new ArrayList<>();
            for (int r = 0; r < WORLD; r++) {
                int rank = r;
                norms.add(pool.submit(() -> {
                    CommConfig c = CommConfig.builder().rank(rank).worldSize(WORLD).secret(secret)
                            .transport(Transport.IN_PROCESS).timeout(Duration.ofSeconds(20)).build();
                    try (Communicator world = Communicators.create(c);
                            DeviceMesh mesh = DeviceMesh.of(world, 1, 2, 1, 2);
                            NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                        int ep = mesh.coord(MeshDims.EP);
                        try (ParamStore store = ParamStores.build(m, units(), DataType.FLOAT32, SEED, mesh,
                                mesh.dataParallelGroup(m), true)) {
                            assertTrue(store.holds("dense"));
                            for (int e = 0; e < 4; e++) {
                                assertEquals(e / 2 == ep, store.holds("expert." + e), "rank " + rank + " expert " + e);
                            }
                            String away = "expert." + (ep == 0 ? 2 : 0);
                            IllegalStateException notHeld = assertThrows(IllegalStateException.class,
                                    () -> store.owned(away));
                            assertTrue(notHeld.getMessage().contains("held by coordinate " + (1 - ep) + " of mesh dim ep"),
                                    notHeld.getMessage());
                            // A held expert of 7 elements over 2 shard ranks: 4 and 3 of them.
                            String mine = "expert." + 2 * ep;
                            assertEquals(mesh.coord(MeshDims.DP_SHARD) == 0 ? 4 : 3, store.owned(mine).length());

                            // Export: rank 0 gets every unit, held or not; the others join.
                            List<UnitLayout> us = units();
                            for (int u = 0; u < us.size(); u++) {
                                if (rank == 0) {
                                    assertArrayEquals(reference.get(u),
                                            store.fullWeights(us.get(u).name(), m).toFloatArray(), us.get(u).name());
                                } else {
                                    store.joinFullWeights(us.get(u).name());
                                }
                            }

                            // Every rank hands in grad (rank + 1) for each unit it holds.
                            for (UnitLayout u : us) {
                                if (store.holds(u.name())) {
                                    NDArray g = m.ones(new Shape(u.numel()), DataType.FLOAT32).mul(rank + 1);
                                    store.accumulateGrad(u.name(), g);
                                }
                            }
                            return store.clipGradNorm(0);
                        }
                    }
                }));
            }
            // Rank = 2 * dp_shard + ep. dense: 15 elements of 1+2+3+4 = 10; experts 0, 1 (held by ranks
            // 0 and 2, ep 0): 7 elements of 1+3 = 4 each; experts 2, 3 (ranks 1 and 3): 7 of 2+4 = 6 each.
            double expected = Math.sqrt(15 * 100.0 + 2 * 7 * 16.0 + 2 * 7 * 36.0);
            for (Future<Double> f : norms) {
                assertEquals(expected, f.get(60, TimeUnit.SECONDS), 1e-5 * expected);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anEpSizeThatDoesNotDivideThePartsIsRefusedNamingTheUnit() {
        UnitLayout.Partition p = new UnitLayout.Partition(MeshDims.EP, 1, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.holder(2));
        assertEquals("3 parts across mesh dim ep cannot be split over 2 ranks: ep must divide 3", e.getMessage());
        assertEquals(1, new UnitLayout.Partition(MeshDims.EP, 3, 4).holder(2));
    }
}
