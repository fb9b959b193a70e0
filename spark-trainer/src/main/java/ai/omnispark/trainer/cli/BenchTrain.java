package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.wan.WanBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.ResidentMemory;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.job.TrainingData;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.Trainer;
import ai.omnispark.trainer.perf.MatmulRate;
import ai.omnispark.trainer.perf.StepFlops;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bench train --config CONFIG}: times training steps on one global batch and runs the same
 * model, weights (through our HF export) and batch in PyTorch eager, at the same thread counts,
 * and compares step time and peak resident memory. {@code --seq-len N} overrides
 * {@code data.max_seq_len}; {@code --profile DIR} records one more step per thread count, after the
 * timed ones, as a Chrome trace {@code DIR/trace-threads-N.json}. Our line also holds the step's
 * model FLOPs ({@link StepFlops}), the GFLOP/s they make at the median step time and their share of
 * the matmul rate measured at the same thread count ({@link MatmulRate}): the roofline.
 *
 * <p>A latent family (wan: its collator takes latent rows) trains on synthetic latent rows of
 * {@code --latent C,F,H,W} ({@link BenchLatentRows}; default {@value #DEFAULT_LATENT}, 21 x 30 x 52
 * patch tokens at patch 1x2x2) and its peer is {@code bench/peers/torch_wan.py}, reading our
 * diffusers export and the exact flow-matching batch our loss is evaluated on (x_t, timestep, text,
 * target, weight), written as a safetensors file, so both compute the same loss.
 */
final class BenchTrain {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PEER_TIMEOUT_MINUTES = 30;
    static final String DEFAULT_LATENT = "4,21,60,104";
    /** The roofline's square matmul: large enough that libtorch runs it at its full rate, a second or so at 1 thread. */
    static final int MATMUL_SIDE = 2048;
    private static final int MATMUL_REPEATS = 3;

    /** What the peer reads: its script under bench/peers and the arguments naming the model and batch files. */
    private record PeerInput(String script, List<String> args) {}

    private BenchTrain() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args args = Args.parse(argv, 0, List.of("config", "steps", "warmup", "threads", "peer", "python", "seq-len",
                "profile", "latent"));
        List<String> requested = new ArrayList<>(args.sets);
        if (args.options.containsKey("seq-len")) {
            requested.add("data.max_seq_len=" + args.positiveInt("seq-len", null));
        }
        Settings base = Settings.load(Path.of(args.required("config")), requested);
        int steps = args.positiveInt("steps", "20");
        int warmup = Integer.parseInt(args.option("warmup", "3"));
        boolean peer = Boolean.parseBoolean(args.option("peer", "true"));
        String python = args.option("python", "/usr/bin/python3");
        Path profileDir = args.options.containsKey("profile") ? Path.of(args.option("profile", null)) : null;
        int[] threadCounts = Arrays.stream(args.option("threads",
                String.valueOf(Runtime.getRuntime().availableProcessors())).split(","))
                .mapToInt(t -> Integer.parseInt(t.trim())).toArray();
        // One micro-batch per step, so both sides run the same single forward and backward.
        List<String> sets = new ArrayList<>(requested);
        sets.add("train.micro_batch_size=" + JobConfig.from(base).train().globalBatchSize());
        sets.add("train.max_steps=" + (steps + warmup + (profileDir == null ? 0 : 1)));
        Settings settings = Settings.load(Path.of(args.required("config")), sets);
        TrainConfig config = TrainConfig.from(settings, 1);
        int[] latent = BenchLatentRows.shape(args.option("latent", DEFAULT_LATENT));
        boolean latentGiven = args.options.containsKey("latent");
        Path work = Files.createTempDirectory("omnispark-bench-");
        for (int threads : threadCounts) {
            PeerInput[] peerInput = new PeerInput[1];
            ObjectNode java = runJava(config, threads, steps, warmup, work, profileDir, latent, latentGiven, peerInput,
                    err);
            out.println(java);
            if (peer) {
                JsonNode torch = runPeer(python, peerInput[0], config, threads, steps, warmup);
                out.println(torch);
                double javaLoss = java.get("loss").asDouble();
                double torchLoss = torch.get("loss").asDouble();
                double rel = Math.abs(javaLoss - torchLoss) / Math.abs(torchLoss);
                ObjectNode cmp = JSON.createObjectNode();
                cmp.put("compare", "omnispark_vs_pytorch");
                cmp.put("threads", threads);
                cmp.put("omnispark_loss", javaLoss);
                cmp.put("pytorch_loss", torchLoss);
                cmp.put("loss_rel_diff", rel);
                cmp.put("loss_match_1e-4", rel <= 1e-4);
                cmp.put("step_time_ratio", java.get("step_ms").asDouble() / torch.get("step_ms").asDouble());
                if (java.has("model_flops_per_step")) {
                    double flops = java.get("model_flops_per_step").asDouble();
                    cmp.put("omnispark_achieved_gflops", java.get("achieved_gflops").asDouble());
                    cmp.put("pytorch_achieved_gflops", flops / (torch.get("step_ms").asDouble() / 1000) / 1e9);
                }
                long javaRss = java.get("peak_rss_bytes").asLong();
                long torchRss = torch.path("peak_rss_bytes").asLong(-1);
                cmp.put("omnispark_peak_rss_bytes", javaRss);
                cmp.put("pytorch_peak_rss_bytes", torchRss);
                if (javaRss > 0 && torchRss > 0) {
                    cmp.put("peak_rss_ratio", (double) javaRss / torchRss);
                }
                out.println(cmp);
                if (rel > 1e-4) {
                    err.println("omnispark: loss differs from PyTorch's by " + rel + " (relative), more than 1e-4");
                    return 1;
                }
            }
        }
        return 0;
    }

    /** @param peerInput receives what the peer reads, written under {@code work} */
    private static ObjectNode runJava(TrainConfig config, int threads, int steps, int warmup,
            Path work, Path profileDir, int[] latent, boolean latentGiven, PeerInput[] peerInput, PrintStream err)
            throws IOException {
        boolean peakReset = ResidentMemory.resetPeak();
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.open(config.job().model(), rank, config.seed(), null, false)) {
                Path hf = work.resolve("hf");
                HfCheckpoint.export(loaded.model(), loaded.params(), rank.manager(), hf, SafeDType.F32);
                boolean latentRows = loaded.model().sampleLayouts().contains(SampleLayout.LATENTS);
                if (latentGiven && !latentRows) {
                    throw new ConfigException("--latent is for latent-row families (wan); this model is "
                            + loaded.model().family());
                }
                List<Sample> batch;
                InMemoryRows rows;
                int seqLen;
                if (latentRows) {
                    AtomicInteger tokens = new AtomicInteger();
                    batch = BenchLatentRows.of(latent, config.globalBatchSize(), tokens).apply(loaded.model());
                    seqLen = tokens.get();
                    rows = InMemoryRows.ofSamples(batch, config.seed(), 0, 1);
                    Path inputs = work.resolve("inputs.safetensors");
                    writeLatentBatch(loaded.model(), rank, batch, inputs);
                    peerInput[0] = new PeerInput("torch_wan.py", List.of("--hf", hf.toString(), "--inputs",
                            inputs.toString()));
                } else {
                    Tokenizer tokenizer = TrainingData.tokenizer(config.job());
                    List<PackedRow> all = TrainingData.rows(config.job(), tokenizer);
                    if (all.size() < config.globalBatchSize()) {
                        throw new ConfigException("the data packs into " + all.size()
                                + " rows, fewer than one global batch");
                    }
                    List<PackedRow> packed = all.subList(0, config.globalBatchSize());
                    batch = packed.stream().map(PackedRow::sample).toList();
                    seqLen = packed.get(0).length();
                    rows = new InMemoryRows(packed, config.seed(), 0, 1);
                    writeBatch(packed, work.resolve("batch.json"));
                    peerInput[0] = new PeerInput("torch_llm.py", List.of("--hf", hf.toString(), "--batch",
                            work.resolve("batch.json").toString()));
                }
                Trainer trainer = loaded.train(config, rank, rows, DataParallel.single());
                double loss = trainer.evaluate(batch);
                double[] times = new double[steps];
                long tokens = 0;
                for (int i = 0; i < warmup + steps; i++) {
                    var r = trainer.trainStep();
                    if (i >= warmup) {
                        times[i - warmup] = r.stepMs();
                        tokens = r.tokens();
                    }
                }
                long peakRss = ResidentMemory.peakBytes();
                Path trace = profileDir == null ? null : profile(rank, trainer, profileDir, threads);
                Arrays.sort(times);
                double median = times[steps / 2];
                ObjectNode o = JSON.createObjectNode();
                o.put("impl", "omnispark");
                o.put("threads", threads);
                o.put("rows", batch.size());
                o.put("seq_len", seqLen);
                o.put("loss", loss);
                // a latent step's token count is the latent's elements; the peer counts patch tokens
                long stepTokens = latentRows ? (long) seqLen * batch.size() : tokens;
                o.put("tokens_per_s", stepTokens / (median / 1000));
                o.put("step_ms", median);
                o.put("peak_rss_bytes", peakRss);
                // without the reset the peak also covers the runs at the thread counts before this one
                o.put("peak_rss_this_run_only", peakReset);
                if (trace != null) {
                    o.put("profile", trace.toString());
                }
                o.put("params", loaded.model().parameterCount());
                putRoofline(o, loaded.model(), batch, median, rank, err);
                return o;
            }
        }
    }

    /**
     * The step's model FLOPs ({@link StepFlops}) over its median time, against the matmul rate
     * measured here at the rank's thread count; a family without a FLOP model gets
     * {@code flop_model} saying so instead (and a line on stderr), the timing still stands.
     */
    private static void putRoofline(ObjectNode o, Model model, List<Sample> batch, double stepMs, RankContext rank,
            PrintStream err) {
        double flops;
        try {
            flops = StepFlops.of(model.hfConfig("float32"), batch);
        } catch (IllegalArgumentException e) {
            o.put("flop_model", e.getMessage());
            err.println("omnispark: " + e.getMessage() + "; no achieved_gflops or roofline_share");
            return;
        }
        double achieved = flops / (stepMs / 1000) / 1e9;
        double matmul = MatmulRate.measureGflops(rank.manager(), MATMUL_SIDE, MATMUL_REPEATS);
        o.put("model_flops_per_step", flops);
        o.put("achieved_gflops", achieved);
        o.put("matmul_gflops", matmul);
        o.put("roofline_share", achieved / matmul);
    }

    /** One more step, recorded (after the timed ones, so the profiler's cost does not skew them). */
    private static Path profile(RankContext rank, Trainer trainer, Path dir, int threads) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("trace-threads-" + threads + ".json");
        rank.profiler().start();
        trainer.trainStep();
        rank.profiler().stop();
        try (OutputStream out = Files.newOutputStream(file)) {
            rank.profiler().writeTo(out);
        }
        return file;
    }

    /**
     * The batch {@link Trainer#evaluate} collates from {@code rows} (the collator's fixed evaluation
     * draws), under diffusers' argument names plus {@code target} and {@code loss_weight}, F32.
     */
    private static void writeLatentBatch(Model model, RankContext rank, List<Sample> rows, Path file)
            throws IOException {
        try (NDManager scope = rank.manager().newSubManager()) {
            Batch b = model.collator().collate(scope, rows, DataType.FLOAT32, null);
            SafeTensorsWriter writer = new SafeTensorsWriter();
            String[][] names = {{"hidden_states", WanBatch.HIDDEN_STATES}, {"timestep", WanBatch.TIMESTEP},
                {"encoder_hidden_states", WanBatch.ENCODER_HIDDEN_STATES}, {"target", WanBatch.TARGET},
                {"loss_weight", WanBatch.LOSS_WEIGHT}};
            for (String[] n : names) {
                NDArray t = b.get(n[1]);
                if (t == null) {
                    throw new IllegalStateException("the " + model.family() + " batch has no " + n[1]);
                }
                float[] values = t.toType(DataType.FLOAT32, false).toFloatArray();
                ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                bytes.asFloatBuffer().put(values);
                writer.add(n[0], SafeDType.F32, t.getShape().getShape(), bytes);
            }
            writer.write(file);
        }
    }

    private static void writeBatch(List<PackedRow> rows, Path file) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode ids = o.putArray("input_ids");
        ArrayNode labels = o.putArray("labels");
        ArrayNode pos = o.putArray("position_ids");
        ArrayNode doc = o.putArray("doc_ids");
        for (PackedRow r : rows) {
            ArrayNode a = ids.addArray();
            ArrayNode b = labels.addArray();
            ArrayNode c = pos.addArray();
            ArrayNode d = doc.addArray();
            for (int t = 0; t < r.length(); t++) {
                a.add(r.inputIds()[t]);
                b.add(r.labels()[t]);
                c.add(r.positionIds()[t]);
                d.add(r.docIds()[t]);
            }
        }
        JSON.writeValue(file.toFile(), o);
    }

    private static JsonNode runPeer(String python, PeerInput input, TrainConfig config, int threads, int steps,
            int warmup) throws IOException, InterruptedException {
        Path home = Path.of(System.getProperty("omnispark.home", "."));
        Path script = home.resolve("bench/peers").resolve(input.script());
        if (!Files.isRegularFile(script)) {
            throw new ConfigException("the PyTorch peer " + script + " is missing (set -Domnispark.home)");
        }
        List<String> cmd = new ArrayList<>(List.of(python, script.toString()));
        cmd.addAll(input.args());
        cmd.addAll(List.of("--threads", String.valueOf(threads),
                "--steps", String.valueOf(steps), "--warmup", String.valueOf(warmup),
                "--lr", String.valueOf(config.lr()), "--weight-decay", String.valueOf(config.adamw().weightDecay()),
                "--betas", config.adamw().beta1() + "," + config.adamw().beta2(),
                "--eps", String.valueOf(config.adamw().eps()),
                "--max-grad-norm", String.valueOf(config.maxGradNorm())));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(threads));
        Process p = pb.start();
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        // read on a side thread, so that a peer that hangs with its output open is still timed out
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.add(line);
                }
            } catch (IOException e) {
                output.add("(reading the peer's output failed: " + e + ")");
            }
        }, "omnispark-bench-peer-output");
        reader.setDaemon(true);
        reader.start();
        boolean ended = p.waitFor(PEER_TIMEOUT_MINUTES, TimeUnit.MINUTES);
        if (!ended) {
            p.destroyForcibly();
        }
        reader.join(TimeUnit.SECONDS.toMillis(10));
        List<String> lines;
        synchronized (output) {
            lines = new ArrayList<>(output);
        }
        if (!ended || p.exitValue() != 0) {
            throw new IOException("the PyTorch peer " + (ended ? "failed (exit " + p.exitValue() + ")"
                    : "did not finish in " + PEER_TIMEOUT_MINUTES + " minutes") + ":\n" + String.join("\n", lines));
        }
        for (int i = lines.size() - 1; i >= 0; i--) {
            if (lines.get(i).startsWith("{")) {
                return JSON.readTree(lines.get(i));
            }
        }
        throw new IOException("the PyTorch peer printed no JSON line:\n" + String.join("\n", lines));
    }
}
