package ai.omnispark.models.llm;

import ai.omnispark.models.hf.HfCheckpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.comm.Communicators;
import ai.omnispark.parallel.comm.Transport;
import ai.omnispark.parallel.fsdp.CommShardGroup;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import java.io.ByteArrayOutputStream;
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
 * Under FSDP only the rank that writes the HF weights holds a gathered copy: the writer's copy is
 * byte for byte the one rank's export, and a rank that only joins the gathers allocates a small
 * fraction of the model on its heap (before, every rank built the whole host copy and dropped it).
 */
class HfGatherTest {
    private static final long SEED = 5;

    private static DecoderConfig config() {
        return DecoderConfig.builder().family("qwen3").vocabSize(4096).hiddenSize(64).intermediateSize(96)
                .numLayers(2).numHeads(4).numKvHeads(2).headDim(16).tieWordEmbeddings(false).build();
    }

    private static byte[] bytes(SafeTensorsWriter w) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        w.write(out);
        return out.toByteArray();
    }

    @Test
    void onlyTheWriterHoldsTheGatheredWeights() throws Exception {
        DecoderLM model = new DecoderLM(config());
        long modelBytes = 0;
        for (UnitLayout u : model.units()) {
            modelBytes += u.numel() * 4;
        }
        byte[] reference;
        try (RankContext one = RankContext.single(1);
                LocalParams params = new LocalParams(one.manager(), model.units(), DataType.FLOAT32, SEED)) {
            reference = bytes(HfCheckpoint.weights(model, params, one.manager(), SafeDType.F32));
        }

        int world = 2;
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        List<Future<Object>> results = new ArrayList<>();
        try {
            for (int r = 0; r < world; r++) {
                int rank = r;
                results.add(threads.submit(() -> {
                    CommConfig cc = CommConfig.builder().rank(rank).worldSize(world).peers(List.of()).secret(secret)
                            .timeout(Duration.ofSeconds(30)).transport(Transport.IN_PROCESS).build();
                    try (Communicator comm = Communicators.create(cc);
                            RankContext ctx = RankContext.builder().rank(rank).worldSize(world).threads(1).build()) {
                        ctx.bindThread();
                        CommShardGroup group = new CommShardGroup(comm, comm.split(new int[] {rank}), comm,
                                ctx.manager());
                        try (FsdpParams params = new FsdpParams(ctx.manager(), model.units(), DataType.FLOAT32, SEED,
                                group)) {
                            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                                    java.lang.management.ManagementFactory.getThreadMXBean();
                            long before = mx.getCurrentThreadAllocatedBytes();
                            SafeTensorsWriter w = null;
                            if (rank == 0) {
                                w = HfCheckpoint.weights(model, params, ctx.manager(), SafeDType.F32);
                            } else {
                                HfCheckpoint.joinWeights(model, params);
                            }
                            long allocated = mx.getCurrentThreadAllocatedBytes() - before;
                            return rank == 0 ? new Object[] {allocated, bytes(w)} : new Object[] {allocated, null};
                        }
                    }
                }));
            }
            Object[] writer = (Object[]) results.get(0).get(60, TimeUnit.SECONDS);
            Object[] joiner = (Object[]) results.get(1).get(60, TimeUnit.SECONDS);
            assertArrayEquals(reference, (byte[]) writer[1], "the writer's gathered export is the one rank's");
            long writerHeap = (Long) writer[0];
            long joinerHeap = (Long) joiner[0];
            System.out.printf("model %d B; heap allocated by the writer %d B, by the joining rank %d B%n",
                    modelBytes, writerHeap, joinerHeap);
            assertTrue(writerHeap >= modelBytes, "the writer holds a host copy: " + writerHeap + " B");
            assertTrue(joinerHeap < modelBytes / 8, "the joining rank allocated " + joinerHeap + " B of heap for a "
                    + modelBytes + " B model");
        } finally {
            threads.shutdownNow();
        }
    }
}
