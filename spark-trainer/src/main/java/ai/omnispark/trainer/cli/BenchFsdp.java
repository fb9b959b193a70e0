package ai.omnispark.trainer.cli;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.Trainer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code bench fsdp --config CONFIG [--world 1,2,4] [--steps N] [--threads T]}: per world size, the per-rank state
 * (weights + gradients + AdamW moments, from live tensors), every byte of tensors the parameter
 * store holds (whatever they are for), the heap each rank allocates to snapshot a checkpoint with
 * {@code hf_ckpt} weights, and the median step time, ranks as threads over the in-process
 * transport; then, on the largest world, how long an async checkpoint
 * save blocks training against a synchronous save of the same state (medians of three after an
 * untimed first save). For a config with {@code model.lora_config}, it then runs the same config
 * without it (a full fine-tune) on one rank and prints how the LoRA state per rank and step time
 * compare with it.
 */
final class BenchFsdp {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SAVE_REPEATS = 3;

    private BenchFsdp() {}

    private record RankResult(long stateBytes, long heldBytes, long snapshotHeapBytes, double stepMs,
            double syncSaveMs, double asyncBlockMs) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, List.of("config", "world", "steps", "warmup", "threads"));
        int[] worlds = Arrays.stream(args.option("world", "1,2,4").split(",")).mapToInt(w -> Integer.parseInt(w.trim()))
                .toArray();
        int steps = args.positiveInt("steps", "6");
        int warmup = Integer.parseInt(args.option("warmup", "2"));
        // Intra-op threads per rank; by default the cores are shared out. On a loaded machine a
        // thread pool per rank larger than the free cores makes step times swing by seconds.
        int threadsPerRank = args.options.containsKey("threads") ? args.positiveInt("threads", "1") : 0;
        Path configFile = Path.of(args.required("config"));
        Settings base = Settings.load(configFile, args.sets);
        checkBaseModel(JobConfig.from(base).model().modelPath(), configFile);
        int largest = Arrays.stream(worlds).max().orElse(1);
        boolean lora = JobConfig.from(base).model().loraConfig() != null;
        List<RankResult> byWorld = new java.util.ArrayList<>();
        // The same model, data and batch with every parameter training, at each world right after
        // the LoRA run (so both see the same machine load): what LoRA is measured against.
        Settings fullFinetune = base.with("model.lora_config", "");
        java.util.Map<Integer, RankResult> full = new java.util.LinkedHashMap<>();
        for (int world : worlds) {
            List<RankResult> ranks = runWorld(atWorld(base, world), world, steps, warmup, world == largest,
                    threadsPerRank);
            if (lora) {
                full.put(world, runWorld(atWorld(fullFinetune, world), world, steps, warmup, false, threadsPerRank)
                        .get(0));
            }
            RankResult r0 = ranks.get(0);
            byWorld.add(r0);
            ObjectNode o = JSON.createObjectNode();
            o.put("world", world);
            if (lora) {
                o.put("lora", true);
            }
            o.put("state_bytes_per_rank", r0.stateBytes());
            o.put("held_tensor_bytes_per_rank", r0.heldBytes());
            var snapshot = o.putArray("checkpoint_snapshot_heap_bytes_by_rank");
            ranks.forEach(r -> snapshot.add(r.snapshotHeapBytes()));
            o.put("step_ms", r0.stepMs());
            out.println(o);
            if (world == largest) {
                ObjectNode save = JSON.createObjectNode();
                save.put("world", world);
                save.put("sync_save_ms", r0.syncSaveMs());
                save.put("async_save_blocking_ms", r0.asyncBlockMs());
                save.put("async_blocking_fraction", r0.asyncBlockMs() / r0.syncSaveMs());
                out.println(save);
            }
        }
        if (lora) {
            if (!full.containsKey(1)) {
                full.put(1, runWorld(atWorld(fullFinetune, 1), 1, steps, warmup, false, threadsPerRank).get(0));
            }
            RankResult one = full.get(1);
            ObjectNode o = JSON.createObjectNode();
            ObjectNode ft = o.putObject("full_finetune");
            ft.put("world", 1);
            ft.put("state_bytes_per_rank", one.stateBytes());
            ft.put("held_tensor_bytes_per_rank", one.heldBytes());
            ft.put("step_ms", one.stepMs());
            var ftByWorld = o.putArray("full_finetune_by_world");
            full.forEach((world, r) -> ftByWorld.addObject().put("world", world)
                    .put("state_bytes_per_rank", r.stateBytes()).put("step_ms", r.stepMs()));
            // State against one rank's full fine-tune (what LoRA saves a user who would otherwise
            // train everything on one rank); step time against both that and the same world's.
            var ratios = o.putArray("lora_vs_full_finetune");
            for (int i = 0; i < worlds.length; i++) {
                ObjectNode r = ratios.addObject();
                r.put("world", worlds[i]);
                r.put("state_bytes_per_rank_ratio", (double) byWorld.get(i).stateBytes() / one.stateBytes());
                r.put("step_ms_ratio", byWorld.get(i).stepMs() / one.stepMs());
                r.put("step_ms_ratio_same_world", byWorld.get(i).stepMs() / full.get(worlds[i]).stepMs());
            }
            out.println(o);
        }
        return 0;
    }

    /** {@code base} on {@code world} ranks, each taking its share of the global batch. */
    private static Settings atWorld(Settings base, int world) {
        return base.with("train.world_size", world).with("train.micro_batch_size",
                Math.max(1, JobConfig.from(base).train().globalBatchSize() / world));
    }

    /**
     * A config that starts from an earlier run's output (a LoRA config on the README run's
     * final_hf) needs that run first: say so before any rank starts.
     */
    private static void checkBaseModel(String modelPath, Path configFile) {
        if (modelPath.isBlank()) {
            return;
        }
        Path dir = Path.of(modelPath);
        if (!Files.isRegularFile(dir.resolve("config.json"))
                || !Files.isRegularFile(dir.resolve(ai.omnispark.models.hf.HfCheckpoint.WEIGHTS))) {
            throw new ai.omnispark.trainer.config.ConfigException("model.model_path " + modelPath + " of " + configFile
                    + " is not a HF model folder (no config.json and " + ai.omnispark.models.hf.HfCheckpoint.WEIGHTS
                    + " in " + dir.toAbsolutePath() + "): it is an earlier run's output, so run that first (the "
                    + "examples' runs/tiny-llm/final_hf is the README run's: bin/omnispark train "
                    + "conf/examples/tiny-llm.yaml)");
        }
    }

    /** @param threadsPerRank intra-op threads of each rank; 0: the machine's cores shared out */
    private static List<RankResult> runWorld(Settings s, int world, int steps, int warmup, boolean saves,
            int threadsPerRank) throws Exception {
        Path ckpt = Files.createTempDirectory("omnispark-bench-fsdp-");
        return BenchRanks.run(s, threadsPerRank, true, java.util.function.UnaryOperator.identity(),
                (ctx, assembly, trainer, dp) -> {
                    int rank = ctx.rank();
                    DoubleUnaryOperator sum = dp::sum;
                    Model model = assembly.model();
                    ParamStore params = assembly.params();
                    double[] times = new double[steps];
                    long peak = 0;
                    for (int i = 0; i < warmup + steps; i++) {
                        var res = trainer.trainStep();
                        peak = Math.max(peak, params.stateBytes(trainer.optimizer()));
                        if (i >= warmup) {
                            times[i - warmup] = res.stepMs();
                        }
                    }
                    Arrays.sort(times);
                    long snapshotHeap = snapshotHeapBytes(model, params, ctx, trainer);
                    double syncMs = 0;
                    double asyncMs = 0;
                    if (saves) {
                        FileSystem fs = FileSystem.getLocal(new Configuration());
                        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(ckpt.toUri());
                        try (Checkpointer c = new Checkpointer(fs, root, rank, world, sum, 0)) {
                            // The first save pays for class loading and directory creation: not timed.
                            c.save(1, RankState.capture(params, trainer.optimizer()), JSON.createObjectNode(),
                                    null, model.units(), false);
                            double[] sync = new double[SAVE_REPEATS];
                            double[] async = new double[SAVE_REPEATS];
                            long version = 2;
                            for (int rep = 0; rep < SAVE_REPEATS; rep++) {
                                long t0 = System.nanoTime();
                                c.save(version++, RankState.capture(params, trainer.optimizer()),
                                        JSON.createObjectNode(), null, model.units(), false);
                                sync[rep] = (System.nanoTime() - t0) / 1e6;
                                long t1 = System.nanoTime();
                                c.save(version++, RankState.capture(params, trainer.optimizer()),
                                        JSON.createObjectNode(), null, model.units(), true);
                                async[rep] = (System.nanoTime() - t1) / 1e6;
                                // Training goes on while the write proceeds; each step pays one poll.
                                for (int i = 0; i < 3; i++) {
                                    trainer.trainStep();
                                    long p = System.nanoTime();
                                    c.poll();
                                    async[rep] += (System.nanoTime() - p) / 1e6;
                                }
                                c.finish();
                            }
                            Arrays.sort(sync);
                            Arrays.sort(async);
                            syncMs = sync[SAVE_REPEATS / 2];
                            asyncMs = async[SAVE_REPEATS / 2];
                        }
                    }
                    return new RankResult(peak, params.heldBytes(), snapshotHeap, times[steps / 2], syncMs,
                            asyncMs);
                });
    }

    /**
     * Heap this rank's thread allocates for what a checkpoint with {@code save_hf_weights} snapshots:
     * its own slices and the gathered HF weights, as RankJob takes them.
     */
    private static long snapshotHeapBytes(Model model, ParamStore params, RankContext ctx, Trainer trainer) {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        RankState state = RankState.capture(params, trainer.optimizer());
        SafeTensorsWriter hf = null;
        if (ctx.rank() == 0) {
            hf = HfCheckpoint.weights(model, params, ctx.manager(), SafeDType.F32);
        } else {
            HfCheckpoint.joinWeights(model, params);
        }
        long bytes = threads.getCurrentThreadAllocatedBytes() - before;
        if (state.model().isEmpty() || (ctx.rank() == 0 && hf == null)) {
            throw new IllegalStateException("nothing was snapshot");
        }
        return bytes;
    }
}
