package ai.omnispark.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A unit whose full tensor is over the per-collective limit (2 GiB for real; a few bytes here, so
 * the piecewise path runs on small tensors) is gathered and reduce-scattered in pieces. The results
 * must equal the hand-computed answers exactly: small integers, so every sum is exact in fp32.
 * FSDP (shard 3), HSDP (shard 2 x replicas 2) and DDP (shard 1 x replicas 2); the shard lengths do
 * not divide into the pieces evenly.
 */
class CommShardGroupPiecesTest {
    private static float value(int rank, long i) {
        return Math.floorMod(rank * 5 + i * 3, 13) - 6;
    }

    @ParameterizedTest(name = "shard {0} x replicas {1}, {2}-byte pieces")
    @CsvSource({"3,1,20", "2,2,24", "1,2,12", "3,1,1000000"})
    void piecewiseGatherAndReduceScatterEqualTheAnswer(int shardSize, int replicas, long maxOpBytes) throws Exception {
        int world = shardSize * replicas;
        long shardLen = 11;
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        List<Future<Void>> done = new ArrayList<>();
        try {
            for (int r = 0; r < world; r++) {
                int rank = r;
                done.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(rank).worldSize(world).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(rank).worldSize(world).threads(1).build()) {
                        // Shard groups are consecutive ranks; replicas are the same position in each group.
                        int group = rank / shardSize;
                        int position = rank % shardSize;
                        int[] shardRanks = new int[shardSize];
                        for (int i = 0; i < shardSize; i++) {
                            shardRanks[i] = group * shardSize + i;
                        }
                        int[] replicaRanks = new int[replicas];
                        for (int i = 0; i < replicas; i++) {
                            replicaRanks[i] = i * shardSize + position;
                        }
                        Communicator shardComm = comm.split(shardRanks);
                        Communicator replicaComm = comm.split(replicaRanks);
                        CommShardGroup g = new CommShardGroup(shardComm, replicaComm, comm, ctx.manager(), maxOpBytes);
                        check(g, ctx, rank, group, position, shardSize, replicas, shardLen);
                    }
                    return null;
                }));
            }
            for (Future<Void> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
    }

    private static void check(CommShardGroup g, RankContext ctx, int rank, int group, int position, int shardSize,
            int replicas, long shardLen) {
        long fullLen = shardSize * shardLen;
        float[] mine = new float[(int) shardLen];
        for (int i = 0; i < shardLen; i++) {
            mine[i] = value(rank, i);
        }
        NDArray shard = ctx.manager().create(mine);
        NDArray full = ctx.manager().zeros(new Shape(fullLen), DataType.FLOAT32);
        g.allGather(shard, full).await();
        float[] gathered = full.toFloatArray();
        for (int r = 0; r < shardSize; r++) {
            for (int i = 0; i < shardLen; i++) {
                assertEquals(value(group * shardSize + r, i), gathered[(int) (r * shardLen + i)],
                        "rank " + rank + ": gathered element " + i + " of shard " + r);
            }
        }

        float[] input = new float[(int) fullLen];
        for (int i = 0; i < fullLen; i++) {
            input[i] = value(rank, 100 + i);
        }
        NDArray grads = ctx.manager().create(input);
        NDArray out = ctx.manager().zeros(new Shape(shardLen), DataType.FLOAT32);
        g.reduceScatterSum(grads, out).await();
        float[] reduced = out.toFloatArray();
        for (int i = 0; i < shardLen; i++) {
            double want = 0;
            for (int q = 0; q < shardSize * replicas; q++) {
                want += value(q, 100 + position * shardLen + i);
            }
            assertEquals(want, reduced[i], 0.0, "rank " + rank + ": reduced element " + i);
        }
    }
}
