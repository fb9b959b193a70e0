package ai.omnispark.parallel.mesh;

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
import ai.omnispark.parallel.comm.ReduceOp;
import ai.omnispark.parallel.comm.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DeviceMeshTest {
    private static final int WORLD = 8;

    private static DeviceMesh.Builder dims() {
        return DeviceMesh.builder().dim("dp_replicate", 2).dim("dp_shard", 2).dim("ulysses", 2);
    }

    /** A world communicator that only knows its rank and size (no collectives needed). */
    private static Communicator fake(int rank, int size) {
        return (Communicator) java.lang.reflect.Proxy.newProxyInstance(
                DeviceMeshTest.class.getClassLoader(), new Class<?>[] {Communicator.class},
                (p, m, a) -> m.getName().equals("rank") ? rank
                        : m.getName().equals("size") ? size : null);
    }

    @Test
    void ranksMapToCoordinatesRowMajor() {
        DeviceMesh mesh = dims().build(fake(5, WORLD));
        assertArrayEquals(new int[] {1, 0, 1}, mesh.coords()); // 5 = 1*4 + 0*2 + 1
        assertArrayEquals(new int[] {0, 0, 0}, mesh.coords(0));
        assertArrayEquals(new int[] {0, 1, 1}, mesh.coords(3));
        assertArrayEquals(new int[] {1, 1, 1}, mesh.coords(7));
        for (int r = 0; r < WORLD; r++) {
            assertEquals(r, mesh.rankOf(mesh.coords(r)));
        }
        assertEquals(1, mesh.coord("ulysses"));
        assertArrayEquals(new int[] {4, 5, 6, 7}, mesh.members(new boolean[] {false, true, true}));
        assertArrayEquals(new int[] {1, 5}, mesh.members(new boolean[] {true, false, false}));
    }

    @Test
    void sizesMustMultiplyToTheWorld() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DeviceMesh.builder().dim("dp_shard", 3).dim("ep", 2).build(fake(0, 8)));
        assertTrue(e.getMessage().contains("multiply to 6") && e.getMessage().contains("8 ranks"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> dims().build(fake(0, WORLD)).group("tp"));
    }

    @Test
    void groupsReduceOverTheRanksSharingTheOtherCoordinates() throws Exception {
        byte[] secret = "mesh-test".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ExecutorService pool = Executors.newFixedThreadPool(WORLD);
        try {
            List<Future<double[]>> fs = new ArrayList<>();
            for (int r = 0; r < WORLD; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    CommConfig c = CommConfig.builder().rank(rank).worldSize(WORLD).secret(secret)
                            .transport(Transport.IN_PROCESS).timeout(Duration.ofSeconds(20)).build();
                    try (Communicator world = Communicators.create(c);
                            DeviceMesh mesh = dims().build(world);
                            NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                        Communicator fsdp = mesh.group("dp_shard", "ulysses");
                        Communicator rep = mesh.group("dp_replicate");
                        NDArray a = m.create(new float[] {rank});
                        fsdp.allReduce(a, ReduceOp.SUM).await();
                        NDArray b = m.create(new float[] {rank});
                        rep.allReduce(b, ReduceOp.SUM).await();
                        return new double[] {a.getFloat(0), b.getFloat(0), fsdp.rank(), fsdp.size(),
                            rep.rank(), rep.size()};
                    }
                }));
            }
            for (int r = 0; r < WORLD; r++) {
                double[] got = fs.get(r).get(60, TimeUnit.SECONDS);
                int rep = r / 4;
                assertEquals(rep == 0 ? 0 + 1 + 2 + 3 : 4 + 5 + 6 + 7, got[0], "rank " + r);
                assertEquals((r % 4) + (r % 4 + 4), got[1], "rank " + r);
                assertEquals(r % 4, got[2]);
                assertEquals(4, got[3]);
                assertEquals(rep, got[4]);
                assertEquals(2, got[5]);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The data-parallel position comes from the dp coordinates, by a hand-derived table: with
     * dp_replicate 2 x dp_shard 2, world rank r is dp rank r; with sp 2 added (world 8), the two sp
     * ranks of a pair read the same rows, so dp rank = r / 2, never the world rank.
     */
    @Test
    void dataParallelRankAndSizeComeFromTheDpCoordinates() {
        for (int r = 0; r < 4; r++) {
            DeviceMesh mesh = DeviceMesh.dataParallel(fake(r, 4), 2, 2);
            assertEquals(List.of(MeshDims.DP_REPLICATE, MeshDims.DP_SHARD, MeshDims.SP, MeshDims.EP), mesh.dimNames());
            assertEquals(r, mesh.dataParallelRank(), "rank " + r);
            assertEquals(4, mesh.dataParallelSize());
            assertEquals(r / 2, mesh.coord(MeshDims.DP_REPLICATE));
            assertEquals(r % 2, mesh.coord(MeshDims.DP_SHARD));
        }
        int[] dpRankOf = {0, 0, 1, 1, 2, 2, 3, 3};
        for (int r = 0; r < 8; r++) {
            DeviceMesh mesh = DeviceMesh.builder().dim(MeshDims.DP_REPLICATE, 2).dim(MeshDims.DP_SHARD, 2)
                    .dim(MeshDims.SP, 2).dim(MeshDims.EP, 1).build(fake(r, 8));
            assertEquals(dpRankOf[r], mesh.dataParallelRank(), "world rank " + r);
            assertEquals(4, mesh.dataParallelSize());
        }
        // Expert-parallel ranks read rows of their own; sp ranks share theirs: on dp_shard 2 x sp 2 x
        // ep 2 (ep fastest), world ranks r and r + 2 (same shard and ep, other sp) are one dp rank.
        int[] dpRankWithEp = {0, 1, 0, 1, 2, 3, 2, 3};
        for (int r = 0; r < 8; r++) {
            DeviceMesh mesh = DeviceMesh.of(fake(r, 8), 1, 2, 2, 2);
            assertEquals(dpRankWithEp[r], mesh.dataParallelRank(), "world rank " + r);
            assertEquals(4, mesh.dataParallelSize());
            assertEquals(2, mesh.sequenceParallelSize());
        }
        // A mesh without dp dimensions is one data-parallel rank.
        DeviceMesh sp = DeviceMesh.builder().dim(MeshDims.SP, 4).build(fake(3, 4));
        assertEquals(0, sp.dataParallelRank());
        assertEquals(1, sp.dataParallelSize());
    }

    /**
     * The ShardGroup built from the mesh shards over dp_shard and reduces over replicas: on
     * replicate 2 x shard 2, shard rank = r % 2 of 2, sums over the shard pair and the whole job.
     */
    @Test
    void theDataParallelGroupShardsOverDpShardAndSumsOverEveryDpRank() throws Exception {
        int world = 4;
        byte[] secret = "mesh-dp-test".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<double[]>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    CommConfig c = CommConfig.builder().rank(rank).worldSize(world).secret(secret)
                            .transport(Transport.IN_PROCESS).timeout(Duration.ofSeconds(20)).build();
                    try (Communicator comm = Communicators.create(c);
                            DeviceMesh mesh = DeviceMesh.dataParallel(comm, 2, 2);
                            NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                        ai.omnispark.parallel.fsdp.ShardGroup g = mesh.dataParallelGroup(m);
                        NDArray full = m.create(new float[] {1 + rank, 10 + rank, 100 + rank, 1000 + rank});
                        NDArray mine = m.zeros(new Shape(2), DataType.FLOAT32);
                        g.reduceScatterSum(full, mine).await();
                        return new double[] {g.rank(), g.size(), g.sumAll(rank), g.sumShards(rank), g.countAll(1),
                            mine.getFloat(0), mine.getFloat(1)};
                    }
                }));
            }
            for (int r = 0; r < world; r++) {
                double[] got = fs.get(r).get(60, TimeUnit.SECONDS);
                assertEquals(r % 2, got[0], "rank " + r);
                assertEquals(2, got[1]);
                assertEquals(0 + 1 + 2 + 3, got[2]);
                assertEquals(r < 2 ? 0 + 1 : 2 + 3, got[3], "shard pair of rank " + r);
                assertEquals(4, got[4]);
                // Summed over all 4 ranks (shards, then replicas): slice r % 2 of the 4-element sum.
                double[] total = {1 * 4 + 6, 10 * 4 + 6, 100 * 4 + 6, 1000 * 4 + 6};
                assertEquals(total[2 * (r % 2)], got[5], "rank " + r);
                assertEquals(total[2 * (r % 2) + 1], got[6], "rank " + r);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
