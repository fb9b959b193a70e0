package ai.omnispark.trainer.job;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.hf.HfConfig;
import ai.omnispark.models.llm.DecoderConfig;
import ai.omnispark.models.llm.DecoderLM;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.checkpoint.HfWriter;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.fsdp.CommShardGroup;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.profile.Span;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.ParallelPlan;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.data.RowSource;
import ai.omnispark.trainer.data.ShardRows;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import ai.omnispark.trainer.profile.RankProfile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
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

    /**
     * @param comm the world communicator; null only when the world is one rank
     * @param listener rank 0's per-step sink (progress, metrics); ignored on other ranks
     */
    public record Env(int rank, int worldSize, Communicator comm, int threads, StepListener listener,
            Configuration hadoop, int attempt, ai.djl.Device device) {
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
        ParallelPlan plan = ParallelPlan.from(settings);
        if (plan.worldSize() != env.worldSize()) {
            throw new ConfigException("train.world_size is " + plan.worldSize() + " but " + env.worldSize()
                    + " ranks were launched");
        }
        TrainConfig config = TrainConfig.from(settings, plan.worldSize());
        boolean lead = env.rank() == 0;
        try (RankContext rank = RankContext.builder().rank(env.rank()).worldSize(env.worldSize())
                .threads(env.threads()).device(env.device()).build()) {
            rank.bindThread();
            if (env.comm() != null) {
                env.comm().traceTo(rank.profiler());
            }
            DecoderConfig modelConfig = modelConfig(settings);
            DecoderLM model = new DecoderLM(modelConfig);
            ShardGroup group = plan.worldSize() == 1 ? null : shardGroup(plan, env, rank);
            try (ParamStore params = group == null
                    ? new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, config.seed())
                    : new FsdpParams(rank.manager(), model.units(), DataType.FLOAT32, config.seed(), group,
                            plan.fullShard())) {
                String modelPath = settings.string("model.model_path");
                if (!modelPath.isBlank()) {
                    HfCheckpoint.load(model, params, rank.manager(), java.nio.file.Path.of(modelPath));
                }
                DoubleUnaryOperator sumAll = group == null ? x -> x : group::sumAll;
                Tokenizer tokenizer = TrainingData.tokenizer(settings);
                if (tokenizer.vocabSize() > modelConfig.vocabSize()) {
                    throw new ConfigException("the tokenizer has " + tokenizer.vocabSize()
                            + " ids but the model's vocab_size is " + modelConfig.vocabSize());
                }
                RowSource source = rowSource(settings, tokenizer, config, env);
                Trainer trainer = new Trainer(config, rank, model, params, source, sumAll, DataType.FLOAT32);
                if (lead) {
                    for (String line : trainer.describe()) {
                        out.println(line);
                    }
                    out.println("ranks " + plan.worldSize() + " (" + plan.mode().name().toLowerCase()
                            + ", shard " + plan.shardSize() + " x replicate " + plan.replicateSize() + "), data "
                            + source.rowsPerEpoch() * plan.worldSize() + " packed rows per epoch");
                }
                Path outputDir = new Path(config.outputDir());
                FileSystem fs = outputDir.getFileSystem(env.hadoop());
                outputDir = fs.makeQualified(outputDir);
                Path checkpoints = new Path(outputDir, "checkpoints");
                String fingerprint = fingerprint(settings, modelConfig);
                try (RowSource ownedSource = source;
                        Checkpointer ckpt = new Checkpointer(fs, checkpoints, env.rank(), env.worldSize(), sumAll,
                        settings.intValue("train.save_total_limit"))) {
                    resume(settings, fs, checkpoints, model, params, trainer, source, rank, fingerprint, env, out);
                    RunStats stats = new RunStats();
                    boolean async = settings.flag("train.async_save");
                    long total = trainer.totalSteps();
                    long failAt = env.attempt() == 0 ? settings.integer("debug.fail_at_step") : 0;
                    RankProfile profile = new RankProfile(settings, rank.profiler(), fs, outputDir);
                    while (trainer.step() < total) {
                        profile.beforeStep(trainer.step());
                        if (trainer.step() + 1 == failAt && env.rank() == env.worldSize() - 1) {
                            throw new InjectedFailure("debug.fail_at_step: rank " + env.rank()
                                    + " fails before step " + failAt);
                        }
                        StepResult r = trainer.trainStep();
                        stats.add(r);
                        if (lead && env.listener() != null) {
                            env.listener().onStep(r, total);
                        }
                        ckpt.poll();
                        boolean periodic = config.saveSteps() > 0 && r.step() % config.saveSteps() == 0;
                        if (periodic || r.step() == total) {
                            try (Span span = rank.profiler().span("checkpoint", "train", "step", r.step())) {
                                save(ckpt, r.step(), model, params, trainer, source, rank, config, fingerprint, env,
                                        async && r.step() != total);
                            }
                        }
                        profile.afterStep(r.step());
                    }
                    profile.finish();
                    ckpt.finish();
                    String hfDir = null;
                    if (config.saveHfWeights()) {
                        Path hf = new Path(outputDir, "final_hf");
                        writeHf(model, params, rank, env).write(fs, hf);
                        hfDir = hf.toString();
                    }
                    return stats.summary(outputDir.toString(), hfDir, env.worldSize(), env.attempt());
                }
            }
        }
    }

    /** A prepared dataset (manifest.json) is streamed; raw text or the synthetic sample is packed in memory. */
    private static RowSource rowSource(Settings settings, Tokenizer tokenizer, TrainConfig config, Env env)
            throws IOException {
        String path = settings.string("data.train_path");
        if (!path.equals(TrainingData.SYNTHETIC_TEXT)) {
            Path p = new Path(path);
            FileSystem fs = p.getFileSystem(env.hadoop());
            if (ShardRows.isDataset(fs, p)) {
                return new ShardRows(fs, fs.makeQualified(p), config.seed(), env.rank(), env.worldSize());
            }
        }
        return new InMemoryRows(TrainingData.rows(settings, tokenizer), config.seed(), env.rank(), env.worldSize());
    }

    private static DecoderConfig modelConfig(Settings s) throws IOException {
        String modelPath = s.string("model.model_path");
        return HfConfig.read(java.nio.file.Path.of(modelPath.isBlank() ? s.string("model.config_path") : modelPath));
    }

    private static ShardGroup shardGroup(ParallelPlan plan, Env env, RankContext rank) {
        if (env.comm() == null) {
            throw new IllegalStateException("a " + plan.worldSize() + "-rank job needs a communicator");
        }
        // A group spanning the world is the world communicator itself, not a split of it: all of a
        // rank's collectives then run in one order on one group (see the FSDP notes).
        Communicator shard = env.comm().split(plan.shardGroup(env.rank()));
        Communicator replicate = env.comm().split(plan.replicaGroup(env.rank()));
        return new CommShardGroup(shard, replicate, env.comm(), rank.manager());
    }

    /** Gathers the full weights on every rank (a collective); returns rank 0's writer, a no-op elsewhere. */
    private static HfWriter writeHf(DecoderLM model, ParamStore params, RankContext rank, Env env) {
        SafeTensorsWriter weights = HfCheckpoint.weights(model, params, rank.manager(), SafeDType.F32);
        if (env.rank() != 0) {
            return (fs, dir) -> {};
        }
        return (fs, dir) -> HfCheckpoint.write(model.config(), weights, SafeDType.F32,
                name -> fs.create(new Path(dir, name), true));
    }

    private static void save(Checkpointer ckpt, long step, DecoderLM model, ParamStore params, Trainer trainer,
            RowSource source, RankContext rank, TrainConfig config, String fingerprint, Env env, boolean async)
            throws IOException {
        ObjectNode extra = JSON.createObjectNode();
        long[] cursor = source.cursor();
        extra.put("global_step", step);
        // In-memory rows resume at any world size from the global index; shard streams at the same one.
        extra.putObject("data_cursor").put("epoch", cursor[0]).put("global_index", cursor[1] * env.worldSize())
                .put("rank_position", cursor[1]).put("world_size", env.worldSize())
                .put("reshardable", source instanceof InMemoryRows);
        extra.put("seed", config.seed());
        extra.put("rng", "none: data order is a function of train.seed and the epoch; no other randomness");
        extra.put("config_fingerprint", fingerprint);
        HfWriter hf = config.saveHfWeights() ? writeHf(model, params, rank, env) : null;
        ckpt.save(step, RankState.capture(params, trainer.optimizer()), extra, hf, model.units(), async);
    }

    private static void resume(Settings settings, FileSystem fs, Path checkpoints, DecoderLM model, ParamStore params,
            Trainer trainer, RowSource source, RankContext rank, String fingerprint, Env env, PrintStream out)
            throws IOException {
        String spec = settings.string("train.load_checkpoint_path");
        if (spec.isBlank()) {
            return;
        }
        Path dir = Checkpointer.resolve(fs, checkpoints, spec);
        if (dir == null) {
            if (env.rank() == 0) {
                out.println("no checkpoint under " + checkpoints + " yet; starting fresh");
            }
            return;
        }
        CheckpointReader reader = new CheckpointReader(fs, dir);
        JsonNode extra = reader.extraState();
        String saved = extra.path("config_fingerprint").asText();
        if (!saved.equals(fingerprint)) {
            throw new ConfigException("checkpoint " + dir + " was written with another model, data or batch "
                    + "configuration (fingerprint " + saved + ", this run " + fingerprint + ")");
        }
        RankState state = reader.read(model.units(), params::owned);
        long step = extra.get("global_step").asLong();
        long epoch = extra.path("data_cursor").path("epoch").asLong();
        long globalIndex = extra.path("data_cursor").path("global_index").asLong();
        JsonNode dc = extra.path("data_cursor");
        long position;
        if (dc.path("reshardable").asBoolean(true)) {
            if (globalIndex % env.worldSize() != 0) {
                throw new ConfigException("checkpoint " + dir + " stopped at row " + globalIndex + " of its epoch, which "
                        + env.worldSize() + " ranks cannot split evenly");
            }
            position = globalIndex / env.worldSize();
        } else {
            if (dc.path("world_size").asInt() != env.worldSize()) {
                throw new ConfigException("checkpoint " + dir + " was saved by " + dc.path("world_size").asInt()
                        + " ranks reading a prepared dataset, whose cursor is per rank: resume it with train.world_size="
                        + dc.path("world_size").asInt());
            }
            position = dc.path("rank_position").asLong();
        }
        state.applyTo(params, trainer.optimizer(), rank.manager());
        trainer.restore(step);
        source.seek(new long[] {epoch, position});
        if (env.rank() == 0) {
            out.println("resumed from " + dir + " at step " + step);
        }
    }

    /** What must not change between a checkpoint and the run that resumes it. */
    static String fingerprint(Settings s, DecoderConfig model) {
        StringBuilder b = new StringBuilder();
        b.append(HfConfig.toJson(model, "float32"));
        for (String key : List.of("data.train_path", "data.data_type", "data.max_seq_len", "data.text_keys",
                "model.tokenizer_path", "train.seed", "train.global_batch_size")) {
            b.append('\n').append(key).append('=').append(s.text(key));
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
