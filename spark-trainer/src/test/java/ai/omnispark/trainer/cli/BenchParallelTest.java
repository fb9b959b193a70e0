package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.NativeHeap;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench parallel}'s activation measure against cases whose answer is known: a chain of
 * segments each keeping one tensor of known size for backward (to 8 MiB of 256 MiB, on one rank and
 * on two ranks measured together), and the tiny decoder's activations doubling when its micro-batch
 * doubles and staying the same per rank on 2 FSDP ranks (within 10 %); the expert state of a MoE
 * counted from its config; the command's JSON and its refusal of a layout the model family does not
 * run yet.
 */
class BenchParallelTest {
    private static final long FLOATS = 16L << 20;
    private static final int SEGMENTS = 4;
    /** Other JVM threads (the JIT compiler above all) malloc during the window too: 3 % of 256 MiB. */
    private static final long SLACK = 8L << 20;

    @TempDir
    static Path dir;

    @BeforeAll
    static void needsMallinfo() {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
    }

    /** y = exp(x): autograd keeps y (exp's backward reads its result), FLOATS * 4 bytes a segment. */
    private record Exp(String name) implements Segment {
        @Override
        public List<String> units() {
            return List.of();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            return new NDList(inputs.get(0).exp());
        }
    }

    private static long[] keptByAChainOfExps(int ranks, int microBatches) throws Exception {
        ActivationProbe probe = new ActivationProbe(ranks, Duration.ofSeconds(60));
        List<Segment> chain = new ArrayList<>();
        for (int i = 0; i < SEGMENTS; i++) {
            chain.add(new Exp("exp." + i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                done.add(pool.submit(() -> {
                    try (RankContext ctx = RankContext.builder().rank(rank).worldSize(ranks).threads(1).build();
                            LocalParams params = new LocalParams(ctx.manager(), List.of(), DataType.FLOAT32, 1)) {
                        ctx.bindThread();
                        Parallelize.Plan plan = probe.wrap(new Parallelize.Plan(chain, Recompute.none()));
                        SegmentEngine engine = new SegmentEngine(plan.segments(), List.of(), plan.recompute());
                        for (int m = 0; m < microBatches; m++) {
                            try (NDManager scope = ctx.manager().newSubManager()) {
                                NDArray x = scope.zeros(new Shape(FLOATS), DataType.FLOAT32);
                                NDArray seed = scope.ones(new Shape(FLOATS), DataType.FLOAT32);
                                engine.forwardBackward(scope, new Batch(), new NDList(x), new NDList(seed), params);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        return probe.perRankBytes();
    }

    @Test
    void aChainKeepingOneKnownTensorPerSegmentMeasuresItsBytes() throws Exception {
        long want = SEGMENTS * FLOATS * Float.BYTES;
        for (int ranks : new int[] {1, 2}) {
            // Earlier test classes' tensors that the collector finds now are freed by DJL's cleaner
            // thread, which a reading cannot tell from the ranks' own frees (a clean-clone CI run once
            // saw one micro-batch 24 MiB short): collect them first, and judge the median of the
            // three micro-batches, as the bench reports it.
            quiet();
            long[] kept = keptByAChainOfExps(ranks, 3);
            assertEquals(3, kept.length, "one reading per micro-batch");
            long[] sorted = kept.clone();
            java.util.Arrays.sort(sorted);
            assertEquals(want, sorted[1], SLACK, ranks + " rank(s): median bytes kept per rank of "
                    + java.util.Arrays.toString(kept));
        }
    }

    private static Settings tiny(int microBatch) throws Exception {
        Path model = TinyModel.write(dir, true);
        return Settings.fromTree(null, List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=1024", "train.output_dir=" + dir.resolve("out"), "train.global_batch_size=4",
                "train.micro_batch_size=" + microBatch, "train.lr=1e-3", "train.max_steps=10"), "test");
    }

    @Test
    void theTinyDecodersActivationsDoubleWithItsMicroBatch() throws Exception {
        BenchParallel.Layout one = BenchParallel.layout(null, 1, 1);
        // The reading is the process's: frees by other threads of this shared test JVM (earlier test
        // classes' buffers reaching their cleaners) land in a window as negative bytes; a clean-clone
        // CI run once read x1.69 here. Collect first, and measure the pair a second time when the
        // first falls outside the bound: a real error shows in both.
        double ratio = 0;
        BenchParallel.Measured m1 = null;
        BenchParallel.Measured m2 = null;
        for (int attempt = 0; attempt < 2 && Math.abs(ratio - 2.0) > 0.2; attempt++) {
            quiet();
            m1 = BenchParallel.measure(tiny(1), one, 3, 2, 1);
            quiet();
            m2 = BenchParallel.measure(tiny(2), one, 3, 2, 1);
            ratio = (double) m2.activationBytes() / m1.activationBytes();
            System.out.printf("tiny decoder, seq 1024: activation bytes per rank %d (micro-batch 1), %d (2): x%.3f%n",
                    m1.activationBytes(), m2.activationBytes(), ratio);
        }
        assertTrue(m1.activationBytes() > 1 << 20, "at least a MiB of activations: " + m1.activationBytes());
        assertEquals(2.0, ratio, 0.2, "micro-batch 2 against 1");
        assertEquals(m1.stateBytes(), m2.stateBytes(), "the state does not depend on the batch");
        assertEquals(0, m1.expertStateBytes(), "a dense model has no experts");
        // Two FSDP ranks, each with the same micro-batch of its own rows, measured together and divided.
        double perRank = 0;
        for (int attempt = 0; attempt < 2 && Math.abs(perRank - 1.0) > 0.1; attempt++) {
            quiet();
            BenchParallel.Measured two = BenchParallel.measure(tiny(1), BenchParallel.layout(2, 1, 1), 3, 2, 1);
            System.out.printf("2 FSDP ranks: %d per rank%n", two.activationBytes());
            perRank = (double) two.activationBytes() / m1.activationBytes();
        }
        assertEquals(1.0, perRank, 0.1, "per rank on 2 ranks vs 1");
    }

    /** Lets the collector and the cleaners run before a reading, so their frees fall outside it. */
    private static void quiet() throws InterruptedException {
        System.gc();
        Thread.sleep(200);
    }

    @Test
    void expertStateIsEveryExpertsWeightsGradientsAndMomentsAndHalvesOverTwoRanks() throws Exception {
        Path model = dir.resolve("moe.json");
        Files.writeString(model, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[1],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":0.01}
                """);
        Settings s = Settings.fromTree(null, List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=64", "train.output_dir=" + dir.resolve("moe-out"), "train.global_batch_size=2",
                "train.micro_batch_size=1", "train.lr=1e-3", "train.max_steps=10"), "test");
        // 2 sparse layers x 4 experts x 3 matrices of 16 x 32, each element a 4-byte weight, a 4-byte
        // gradient and AdamW's two 4-byte moments.
        long want = 2L * 4 * 3 * 16 * 32 * 16;
        BenchParallel.Measured one = BenchParallel.measure(s, BenchParallel.layout(null, 1, 1), 1, 1, 1);
        assertEquals(want, one.expertStateBytes());
        BenchParallel.Measured two = BenchParallel.measure(s, BenchParallel.layout(2, 1, 1), 1, 1, 1);
        assertEquals(want / 2, two.expertStateBytes(), "FSDP over 2 ranks: half on average");
        assertTrue(two.expertStateBytesMax() >= want / 2 && two.expertStateBytesMax() < want,
                "the rank whose shard holds more of the experts: " + two.expertStateBytesMax());
    }

    @Test
    void theCommandPrintsALinePerSizeAndASummaryOrRefusesASizeTheFamilyDoesNotRun() throws Exception {
        Path config = dir.resolve("bench.yaml");
        Files.writeString(config, """
                model:
                  config_path: %s
                data:
                  train_path: synthetic://text
                  max_seq_len: 512
                train:
                  output_dir: %s
                  global_batch_size: 2
                  micro_batch_size: 1
                  lr: 1.0e-3
                  max_steps: 10
                """.formatted(TinyModel.write(dir, true), dir.resolve("cli-out")));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        int code = Main.run(new String[] {"bench", "parallel", "--config", config.toString(), "--sp", "1,2",
            "--steps", "3", "--warmup", "2", "--threads", "1", "--memory-budget-mb", "4096"}, print, print);
        String text = bytes.toString(StandardCharsets.UTF_8);
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("{")) {
                lines.add(json.readTree(line));
            }
        }
        JsonNode sp1 = lines.get(0);
        assertEquals(1, sp1.get("world").asInt());
        assertEquals(1, sp1.get("sp").asInt());
        assertEquals(512, sp1.get("seq_len").asInt());
        assertTrue(sp1.get("activation_bytes_per_rank").asLong() > 0, sp1.toString());
        assertTrue(sp1.get("step_ms").asDouble() > 0, sp1.toString());
        assertTrue(sp1.get("fits_budget").asBoolean(), sp1.toString());
        if (code == 2) {
            // Until the dense family runs Ulysses: refused naming the layout and the family's reason.
            assertTrue(text.contains("bench parallel at world 2, sp 2, ep 1")
                    && text.contains("mesh dim sp = 2"), text);
            assertEquals(1, lines.size(), text);
        } else {
            assertEquals(0, code, text);
            JsonNode sp2 = lines.get(1);
            assertEquals(2, sp2.get("sp").asInt());
            assertTrue(sp2.get("activation_bytes_per_rank").asLong() < sp1.get("activation_bytes_per_rank").asLong(),
                    text);
            assertTrue(lines.get(2).has("activation_ratio_vs_sp1"), text);
        }
        assertFalse(text.contains("Exception in"), text);
    }

    @Test
    void theSummaryComparesWithSp1AndNamesTheSizesWithinTheBudget() {
        BenchParallel.Measured sp1 = new BenchParallel.Measured(new BenchParallel.Layout(1, 1, 1), 4096, 1, 100,
                800L << 20, 100L << 20, 0, 0, 0);
        BenchParallel.Measured sp4 = new BenchParallel.Measured(new BenchParallel.Layout(4, 4, 1), 4096, 1, 60,
                220L << 20, 100L << 20, 0, 0, 0);
        JsonNode s = BenchParallel.summary(List.of(sp1, sp4), List.of(), 512L << 20);
        assertEquals(220.0 / 800, s.get("activation_ratio_sp4_vs_sp1").asDouble(), 1e-12);
        assertTrue(s.get("sp1_exceeds_budget").asBoolean());
        assertEquals(1, s.get("sp_sizes_within_budget").size());
        assertEquals(4, s.get("sp_sizes_within_budget").get(0).asInt());
    }
}
