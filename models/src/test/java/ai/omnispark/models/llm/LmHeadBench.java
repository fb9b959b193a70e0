package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.decoder.DecoderHead;
import ai.omnispark.models.nn.LinearCrossEntropy;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.ResidentMemory;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Prints (asserts nothing) the time and memory of the loss head's forward and backward with
 * Qwen3's vocabulary (151936, tied, hidden 64) on 8 x 256 tokens and one thread, for the
 * materialised head ({@code -Domnispark.bench.lmhead=old}) or the chunked one ({@code =chunked}).
 * With one libtorch thread the work runs on the calling thread, so its CPU time is printed too: on
 * a shared, loaded machine it varies far less than the wall time.
 * Run each in its own JVM, so the peak RSS of one is not the other's leftovers:
 * {@code mvn -pl models -am test -Dtest=LmHeadBench -Dsurefire.failIfNoSpecifiedTests=false
 * -Domnispark.bench.lmhead=old}. See docs/performance.md.
 */
@EnabledIfSystemProperty(named = "omnispark.bench.lmhead", matches = "old|chunked")
class LmHeadBench {
    private static final int ROWS = 8;
    private static final int SEQ = 256;
    private static final int RUNS = 5;

    @Test
    void forwardBackward() throws IOException {
        String variant = System.getProperty("omnispark.bench.lmhead");
        DecoderConfig config = DecoderConfig.builder().family("qwen3").vocabSize(151936).hiddenSize(64)
                .intermediateSize(192).numLayers(2).numHeads(4).numKvHeads(2).tieWordEmbeddings(true).build();
        DecoderLM model = new DecoderLM(config);
        List<Segment> head = List.of(variant.equals("old") ? new MaterialisedLossHead(config)
                : new DecoderHead(config, true, Integer.getInteger("omnispark.bench.chunk", 0)));
        int tokens = ROWS * SEQ;
        SplittableRandom r = new SplittableRandom(1);
        float[] hidden = new float[tokens * config.hiddenSize()];
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] = (float) r.nextGaussian();
        }
        long[] labels = new long[tokens];
        float[] mask = new float[tokens];
        for (int i = 0; i < tokens; i++) {
            labels[i] = r.nextInt(config.vocabSize());
            mask[i] = i % SEQ == SEQ - 1 ? 0 : 1; // each row's last position has no label
        }
        try (RankContext rank = RankContext.builder().threads(1).build();
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 3)) {
            rank.bindThread();
            SegmentEngine engine = new SegmentEngine(head, model.units(), Recompute.none());
            long baseline = ResidentMemory.currentBytes() / 1024;
            double[] ms = new double[RUNS];
            double[] cpuMs = new double[RUNS];
            ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
            double loss = 0;
            for (int run = 0; run < RUNS; run++) {
                try (NDManager scope = rank.manager().newSubManager()) {
                    Batch batch = new Batch()
                            .put(DecoderBatch.LABELS, Ops.owned(scope.create(labels), DataType.INT64))
                            .put(DecoderBatch.LABEL_MASK, Ops.owned(scope.create(mask), DataType.FLOAT32));
                    NDArray x = Ops.owned(scope.create(hidden, new Shape(ROWS, SEQ, config.hiddenSize())),
                            DataType.FLOAT32);
                    NDList seeds = new NDList(scope.create(1f / tokens));
                    long start = System.nanoTime();
                    long cpuStart = cpu.getCurrentThreadCpuTime();
                    loss = engine.forwardBackward(scope, batch, new NDList(x), seeds, params).singletonOrThrow()
                            .getFloat() / tokens;
                    ms[run] = (System.nanoTime() - start) / 1e6;
                    cpuMs[run] = (cpu.getCurrentThreadCpuTime() - cpuStart) / 1e6;
                }
            }
            long peak = ResidentMemory.peakBytes() / 1024;
            Arrays.sort(ms);
            Arrays.sort(cpuMs);
            int chunk = LinearCrossEntropy.chunkTokens(Integer.getInteger("omnispark.bench.chunk", 0),
                    config.vocabSize(), 4);
            System.out.printf("lm head %s: vocab %d hidden %d tokens %d (chunk %s), 1 thread: forward+backward "
                    + "median %.0f ms (min %.0f, max %.0f over %d runs), thread CPU median %.0f ms (min %.0f), "
                    + "loss %.6f; RSS before %d MiB, peak %d MiB (+%d MiB)%n", variant, config.vocabSize(),
                    config.hiddenSize(), tokens, variant.equals("old") ? "none" : chunk + " tokens", ms[RUNS / 2],
                    ms[0], ms[RUNS - 1], RUNS, cpuMs[RUNS / 2], cpuMs[0], loss,
                    baseline / 1024, peak / 1024, (peak - baseline) / 1024);
        }
    }
}
