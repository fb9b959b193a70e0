package ai.omnispark.trainer.job;

import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.AdapterExport;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.checkpoint.CheckpointPaths;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.checkpoint.HfWriter;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.comm.CommException;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.profile.Span;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.data.RowSource;
import ai.omnispark.trainer.data.ShardRows;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import ai.omnispark.trainer.profile.RankProfile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Everything one training rank does, whoever launched it (threads of one JVM, or a Spark barrier
 * task): build its share of the model, resume, train, checkpoint, export. Plain Java: the launcher
 * hands over the rank, the world and a communicator, nothing else.
 */
public final class RankJob {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The {@code tokenizer} of a checkpoint's extra state trained with the built-in byte tokenizer. */
    public static final String TOKENIZER_BYTE = "byte";
    /** A LoRA run's final adapter folder (PEFT format) under the output directory. */
    public static final String FINAL_LORA = "final_lora";
    /** The checkpoint extra-state field holding a LoRA run's adapter config ({@link PeftConfig#toJson}). */
    public static final String EXTRA_LORA_CONFIG = "lora_config";

    /**
     * @param comm the world communicator; null only when the world is one rank
     * @param listener rank 0's per-step sink (progress, metrics); ignored on other ranks
     * @param attemptId the launch attempt whose {@link ai.omnispark.parallel.checkpoint.AttemptFence}
     *     must name it for a checkpoint to commit; null when the launcher does not fence
     */
    public record Env(int rank, int worldSize, Communicator comm, int threads, StepListener listener,
            Configuration hadoop, int attempt, ai.djl.Device device, String attemptId) {
        public Env(int rank, int worldSize, Communicator comm, int threads, StepListener listener,
                Configuration hadoop, int attempt, ai.djl.Device device) {
            this(rank, worldSize, comm, threads, listener, hadoop, attempt, device, null);
        }

        public Env(int rank, int worldSize, Communicator comm, int threads, StepListener listener,
                Configuration hadoop, int attempt) {
            this(rank, worldSize, comm, threads, listener, hadoop, attempt, ai.djl.Device.cpu());
        }
    }

    /** The failure {@code debug.fail_at_step} injects. */
    public static final class InjectedFailure extends RuntimeException {
        public InjectedFailure(String message) {
            super(message);
        }
    }

    private RankJob() {}

    public static TrainSummary run(Settings settings, Env env, PrintStream out) throws IOException {
        JobConfig job = JobConfig.from(settings);
        ParallelPlan plan = ParallelPlan.from(job.train());
        if (plan.worldSize() != env.worldSize()) {
            throw new ConfigException("train.world_size is " + plan.worldSize() + " but " + env.worldSize()
                    + " ranks were launched");
        }
        TrainConfig config = TrainConfig.from(job, plan.dataParallelSize());
        boolean lead = env.rank() == 0;
        try (RankContext rank = RankContext.builder().rank(env.rank()).worldSize(env.worldSize())
                .threads(env.threads()).device(env.device()).build()) {
            rank.bindThread();
            if (env.comm() != null) {
                env.comm().traceTo(rank.profiler());
            }
            DeviceMesh mesh = plan.worldSize() == 1 ? null : plan.mesh(worldComm(plan, env));
            ShardGroup group = mesh == null ? null : mesh.dataParallelGroup(rank.manager());
            try (DeviceMesh ownedMesh = mesh; RankAssembly assembly = RankAssembly.open(job, rank, config.seed(),
                    mesh, group, plan.fullShard())) {
                Model model = assembly.model();
                ParamStore params = assembly.params();
                DoubleUnaryOperator sumAll = group == null ? x -> x : group::sumAll;
                Tokenizer tokenizer = TrainingData.tokenizer(job);
                if (model.vocabSize() > 0 && tokenizer.vocabSize() > model.vocabSize()) {
                    throw new ConfigException("the tokenizer has " + tokenizer.vocabSize()
                            + " ids but the model's vocab_size is " + model.vocabSize());
                }
                DataParallel dataParallel = mesh == null ? DataParallel.single() : DataParallel.over(mesh, group);
                RowSource source = rowSource(job, tokenizer, config, env, dataParallel);
                Trainer trainer = assembly.train(config, rank, source, dataParallel);
                if (lead) {
                    for (String line : trainer.describe()) {
                        out.println(line);
                    }
                    if (model.lora() != null && config.loraLr() != config.lr()) {
                        // The progress lines show train.lr's schedule; say what the adapters really get.
                        out.println("LoRA adapters train at train.lora_lr " + config.loraLr() + " (the lr shown, x "
                                + (float) (config.loraLr() / config.lr()) + ")");
                    }
                    out.println("ranks " + plan.worldSize() + " (" + plan.mode().name().toLowerCase()
                            + ", shard " + plan.shardSize() + " x replicate " + plan.replicateSize()
                            + (plan.spSize() > 1 ? " x ulysses " + plan.spSize() : "")
                            + (plan.epSize() > 1 ? " x ep " + plan.epSize() : "") + "), data "
                            + source.rowsPerEpoch() * plan.dataParallelSize() + " packed rows per epoch");
                }
                Path outputDir = new Path(config.outputDir());
                FileSystem fs = outputDir.getFileSystem(env.hadoop());
                outputDir = fs.makeQualified(outputDir);
                Path checkpoints = new Path(outputDir, "checkpoints");
                ResumeConfig resumeConfig = ResumeConfig.of(job, model.hfConfig("float32"), plan);
                PeftConfig peft = peftConfig(job, model);
                try (RowSource ownedSource = source;
                        Checkpointer ckpt = new Checkpointer(fs, checkpoints, env.rank(), env.worldSize(), sumAll,
                        job.train().saveTotalLimit()).fencedBy(env.attemptId())) {
                    resume(job, fs, checkpoints, model, params, trainer, source, rank, resumeConfig, env, out,
                            dataParallel);
                    RunStats stats = new RunStats();
                    boolean async = job.train().asyncSave();
                    long total = trainer.totalSteps();
                    long failAt = env.attempt() == 0 ? job.debug().failAtStep() : 0;
                    RankProfile profile = new RankProfile(job.train(), rank.profiler(), fs, outputDir);
                    while (trainer.step() < total) {
                        profile.beforeStep(trainer.step());
                        if (trainer.step() + 1 == failAt && env.rank() == env.worldSize() - 1) {
                            throw new InjectedFailure("debug.fail_at_step: rank " + env.rank()
                                    + " fails before step " + failAt);
                        }
                        StepResult r = trainer.trainStep();
                        String recompute = trainer.takeRecomputeReport();
                        if (lead && recompute != null) {
                            out.print(recompute);
                        }
                        stats.add(r);
                        if (lead && env.listener() != null) {
                            env.listener().onStep(r, total);
                        }
                        ckpt.poll();
                        boolean periodic = config.saveSteps() > 0 && r.step() % config.saveSteps() == 0;
                        if (periodic || r.step() == total) {
                            try (Span span = rank.profiler().span("checkpoint", "train", "step", r.step())) {
                                save(ckpt, r.step(), model, params, peft, tokenizer, job, trainer, source, rank,
                                        config, resumeConfig, env, dataParallel, async && r.step() != total);
                            }
                        }
                        profile.afterStep(r.step());
                    }
                    profile.finish();
                    ckpt.finish();
                    // Every rank takes part in the gathers below, in this order; only rank 0 writes.
                    String adapterDir = null;
                    if (peft != null) {
                        Path lora = new Path(outputDir, FINAL_LORA);
                        writeAdapter(model, params, peft, tokenizer, rank, env, false).write(fs, lora);
                        adapterDir = lora.toString();
                    }
                    String hfDir = null;
                    if (config.saveHfWeights()) {
                        Path hf = new Path(outputDir, "final_hf");
                        writeHf(model, params, tokenizer, rank, env).write(fs, hf);
                        hfDir = hf.toString();
                    }
                    return stats.summary(outputDir.toString(), hfDir, adapterDir, env.worldSize(), env.attempt());
                }
            }
        }
    }

    /** A prepared dataset (manifest.json) is streamed; raw text or the synthetic sample is packed in memory. */
    private static RowSource rowSource(JobConfig job, Tokenizer tokenizer, TrainConfig config, Env env,
            DataParallel dp) throws IOException {
        String path = job.data().trainPath();
        if (!path.equals(TrainingData.SYNTHETIC_TEXT)) {
            Path p = new Path(path);
            FileSystem fs = p.getFileSystem(env.hadoop());
            if (ShardRows.isDataset(fs, p)) {
                return new ShardRows(fs, fs.makeQualified(p), config.seed(), dp.rank(), dp.size());
            }
        }
        return new InMemoryRows(TrainingData.rows(job, tokenizer), config.seed(), dp.rank(), dp.size());
    }

    private static Communicator worldComm(ParallelPlan plan, Env env) {
        if (env.comm() == null) {
            throw new IllegalStateException("a " + plan.worldSize() + "-rank job needs a communicator");
        }
        return env.comm();
    }

    /**
     * Rank 0 gathers a host copy of the full weights and returns its writer; the other ranks only
     * take part in the gathers (under FSDP) and keep nothing, returning a no-op. The folder carries
     * the tokenizer's files, so it tokenizes as training did (a diffusers folder has none).
     */
    private static HfWriter writeHf(Model model, ParamStore params, Tokenizer tokenizer, RankContext rank,
            Env env) {
        if (env.rank() != 0) {
            HfCheckpoint.joinWeights(model, params);
            return (fs, dir) -> {};
        }
        SafeTensorsWriter weights = HfCheckpoint.weights(model, params, rank.manager(), SafeDType.F32);
        Map<String, byte[]> tokenizerFiles = model.hfFolderHasTokenizer() ? tokenizer.hfFiles() : Map.of();
        return (fs, dir) -> HfCheckpoint.write(model, weights, SafeDType.F32, tokenizerFiles,
                name -> fs.create(new Path(dir, name), true));
    }

    /**
     * The adapter of a LoRA run: in PEFT format, with the tokenizer's files so the folder scores as
     * training tokenized, or in the form the family's {@link Model#adapterExport} writes for a
     * checkpoint's hf_ckpt/ ({@code checkpoint}) or final_lora/. Rank 0 gathers a host copy of the
     * adapter units and returns its writer; the other ranks join the gathers (under FSDP) and return
     * a no-op.
     */
    private static HfWriter writeAdapter(Model model, ParamStore params, PeftConfig peft, Tokenizer tokenizer,
            RankContext rank, Env env, boolean checkpoint) {
        List<UnitLayout> adapterUnits = new ArrayList<>(HfCheckpoint.adapterUnits(model).values());
        if (env.rank() != 0) {
            PeftAdapter.joinWeights(adapterUnits, params);
            return (fs, dir) -> {};
        }
        AdapterExport family = model.adapterExport();
        if (family != null) {
            Map<String, PeftAdapter.Tensor> adapter = PeftAdapter.gather(adapterUnits, params, rank.manager());
            return (fs, dir) -> {
                HfCheckpoint.FolderSink sink = name -> fs.create(new Path(dir, name), true);
                if (checkpoint) {
                    family.writeCheckpoint(peft, adapter, sink);
                } else {
                    family.writeFinal(peft, adapter, sink);
                }
            };
        }
        SafeTensorsWriter weights = PeftAdapter.weights(adapterUnits, params, rank.manager(), peft.lora().rank(),
                model.stateDictAdapter()::toPeft);
        Map<String, byte[]> tokenizerFiles = tokenizer.hfFiles();
        return (fs, dir) -> {
            HfCheckpoint.FolderSink sink = name -> fs.create(new Path(dir, name), true);
            PeftAdapter.write(peft, weights, sink);
            for (Map.Entry<String, byte[]> f : tokenizerFiles.entrySet()) {
                try (OutputStream out = sink.create(f.getKey())) {
                    out.write(f.getValue());
                }
            }
        };
    }

    /** A LoRA run's adapter config, naming the base it trains on; null without LoRA. */
    private static PeftConfig peftConfig(JobConfig job, Model model) {
        if (model.lora() == null) {
            return null;
        }
        String base = job.model().modelPath().isBlank() ? job.model().configPath() : job.model().modelPath();
        return new PeftConfig(model.lora(), base.isBlank() ? null : base);
    }

    private static void save(Checkpointer ckpt, long step, Model model, ParamStore params, PeftConfig peft,
            Tokenizer tokenizer, JobConfig job, Trainer trainer, RowSource source, RankContext rank, TrainConfig config,
            ResumeConfig resumeConfig, Env env, DataParallel dp, boolean async) throws IOException {
        ObjectNode extra = JSON.createObjectNode();
        long[] cursor = source.cursor();
        extra.put("global_step", step);
        // In-memory rows resume at any world size from the global index; shard streams at the same one.
        extra.putObject("data_cursor").put("epoch", cursor[0]).put("global_index", cursor[1] * dp.size())
                .put("rank_position", cursor[1]).put("world_size", dp.size())
                .put("reshardable", source instanceof InMemoryRows);
        extra.put("seed", config.seed());
        // This rank's generator (attention-dropout masks); data order is a function of train.seed and the epoch.
        extra.putObject("rng").put("algorithm", "splitmix64").put("rank", env.rank())
                .put("state", trainer.random().state());
        extra.set("resume_config", resumeConfig.toJson(JSON));
        // export-hf finds the tokenizer here when the checkpoint has no hf_ckpt/ carrying its files.
        String tokenizerPath = job.model().tokenizerPath();
        extra.put("tokenizer", tokenizerPath.isBlank() ? TOKENIZER_BYTE : tokenizerPath);
        if (peft != null) {
            // export-hf rebuilds the model with its adapters from this (PeftConfig.fromJson).
            extra.set(EXTRA_LORA_CONFIG, peft.toJson());
        }
        // A LoRA run's hf_ckpt/ is its adapter (PEFT format unless the family says otherwise): the base is
        // the model_path it started from.
        HfWriter hf = !config.saveHfWeights() ? null
                : peft != null ? writeAdapter(model, params, peft, tokenizer, rank, env, true)
                : writeHf(model, params, tokenizer, rank, env);
        ckpt.save(step, RankState.capture(params, trainer.optimizer()), extra, hf, model.units(), async);
    }

    private static void resume(JobConfig job, FileSystem fs, Path checkpoints, Model model, ParamStore params,
            Trainer trainer, RowSource source, RankContext rank, ResumeConfig resumeConfig, Env env, PrintStream out,
            DataParallel dataParallel) throws IOException {
        String spec = job.train().loadCheckpointPath();
        if (spec.isBlank()) {
            return;
        }
        Path dir = chooseCheckpoint(spec, fs, checkpoints, env, out, dataParallel);
        if (dir == null) {
            if (env.rank() == 0) {
                out.println("no checkpoint under " + checkpoints + " yet; starting fresh");
            }
            return;
        }
        long step;
        // Every rank loads, then all agree: no rank says "resumed" or trains while another failed to load.
        Exception loadFailure = null;
        try {
            step = load(dir, job, fs, model, params, trainer, source, rank, resumeConfig, env, dataParallel, out);
        } catch (IOException | RuntimeException e) {
            loadFailure = e;
            step = -1;
        }
        long failed = dataParallel.total(loadFailure == null ? 0 : 1);
        if (loadFailure instanceof IOException e) {
            throw e;
        }
        if (loadFailure instanceof RuntimeException e) {
            throw e;
        }
        if (failed > 0) {
            throw new CommException("resume", env.rank(), -1, failed + " other rank(s) could not load " + dir
                    + "; their own error says why");
        }
        if (env.rank() == 0) {
            out.println("resumed from " + dir + " at step " + step);
        }
    }

    /**
     * Rank 0 picks the checkpoint (with {@code auto}, the newest that verifies) and tells every rank
     * which, so all ranks load the same one and only one rank reads the whole checkpoint to verify it.
     */
    private static Path chooseCheckpoint(String spec, FileSystem fs, Path checkpoints, Env env, PrintStream out,
            DataParallel dataParallel) throws IOException {
        Path chosen = null;
        IOException failure = null;
        if (env.rank() == 0) {
            try {
                chosen = Checkpointer.resolveVerified(fs, checkpoints, spec, out::println);
            } catch (IOException e) {
                failure = e;
            }
        }
        // 0: none, -1: rank 0 failed, else 1 + the step (auto) or 1 (an explicit path every rank knows).
        long mine = env.rank() != 0 ? 0 : failure != null ? -1
                : chosen == null ? 0 : spec.equals("auto") ? 1 + CheckpointPaths.stepOf(chosen.getName()) : 1;
        long code = dataParallel.total(mine);
        if (failure != null) {
            throw failure;
        }
        if (code < 0) {
            throw new CommException("resume", env.rank(), 0, "rank 0 could not choose a checkpoint to resume from; "
                    + "its own error says why");
        }
        if (code == 0) {
            return null;
        }
        return spec.equals("auto") ? CheckpointPaths.step(checkpoints, code - 1)
                : new Path(spec);
    }

    /** Loads {@code dir} into this rank's state; returns its step. */
    private static long load(Path dir, JobConfig job, FileSystem fs, Model model, ParamStore params,
            Trainer trainer, RowSource source, RankContext rank, ResumeConfig resumeConfig, Env env, DataParallel dp,
            PrintStream out) throws IOException {
        CheckpointReader reader = new CheckpointReader(fs, dir);
        JsonNode extra = reader.extraState();
        List<String> changed = resumeConfig.differences(extra.get("resume_config"));
        if (!changed.isEmpty()) {
            if (!job.train().resumePolicy().allowsChanges()) {
                throw new ConfigException("checkpoint " + dir + " was written with another model, data or parallel "
                        + "configuration: " + String.join("; ", changed) + ". Resume with the checkpoint's settings, "
                        + "or set train.resume_policy=allow_changes to resume anyway");
            }
            if (env.rank() == 0) {
                out.println("resuming " + dir + " with a changed configuration (train.resume_policy=allow_changes): "
                        + String.join("; ", changed));
            }
        }
        // Units partitioned across a mesh dim (experts across ep) are read by the ranks that hold them.
        RankState state = reader.read(model.units().stream().filter(u -> params.holds(u.name())).toList(),
                params::owned);
        long step = extra.get("global_step").asLong();
        long epoch = extra.path("data_cursor").path("epoch").asLong();
        long globalIndex = extra.path("data_cursor").path("global_index").asLong();
        JsonNode dc = extra.path("data_cursor");
        long position;
        if (dc.path("reshardable").asBoolean(true)) {
            if (globalIndex % dp.size() != 0) {
                throw new ConfigException("checkpoint " + dir + " stopped at row " + globalIndex + " of its epoch, which "
                        + dp.size() + " data-parallel ranks cannot split evenly");
            }
            position = globalIndex / dp.size();
        } else {
            if (dc.path("world_size").asInt() != dp.size()) {
                throw new ConfigException("checkpoint " + dir + " was saved by " + dc.path("world_size").asInt()
                        + " ranks reading a prepared dataset, whose cursor is per rank: resume it with train.world_size="
                        + dc.path("world_size").asInt());
            }
            position = dc.path("rank_position").asLong();
        }
        state.applyTo(params, trainer.optimizer(), rank.manager());
        trainer.restore(step);
        JsonNode own = reader.extraState(env.rank());
        JsonNode rng = own == null ? null : own.get("rng");
        if (rng != null && rng.path("algorithm").asText().equals("splitmix64") && rng.has("state")) {
            trainer.random().restore(rng.get("state").asLong());
        } else {
            out.println("rank " + env.rank() + ": checkpoint " + dir + " holds no generator state for this rank; "
                    + "its random stream (dropout) starts afresh from train.seed");
        }
        source.seek(new long[] {epoch, position});
        return step;
    }
}
