package ai.omnispark.trainer.job;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.fsdp.ShardGroup;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.optim.Optimizer;
import ai.omnispark.parallel.optim.ParamGroup;
import java.util.List;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.ModelSection;
import ai.omnispark.trainer.config.TrainSection;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.RowSource;
import ai.omnispark.trainer.loop.DataParallel;
import ai.omnispark.trainer.loop.Trainer;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One rank's model, parameter store and (when it trains) optimizer and trainer, built the same way
 * for a training rank, the benches and the commands that score, generate or export. The model comes
 * from the family that accepts its config.json ({@link ModelFamilies}); nothing here names a family.
 * Closing it closes what it built: optimizer, store and model.
 */
public final class RankAssembly implements AutoCloseable {
    private final Model model;
    private final ParamStore params;
    private Optimizer optimizer;
    private Trainer trainer;

    private RankAssembly(Model model, ParamStore params) {
        this.model = model;
        this.params = params;
    }

    /** The model section as a family builds with it (a diffusion family's training settings at their defaults). */
    public static ModelOptions options(ModelSection m) {
        return new ModelOptions(m.attentionImpl(), m.lossChunkTokens(), m.loraConfig(), m.frozenParts());
    }

    /** The model section with the train section's diffusion settings (train.flow_shift, ...). */
    public static ModelOptions options(ModelSection m, TrainSection t) {
        return options(m).withDiffusion(t.diffusion());
    }

    /** The model the section describes, without weights. */
    public static Model model(ModelSection m) throws IOException {
        return ModelFamilies.load(Path.of(m.hfConfigPath()), options(m));
    }

    /**
     * The model of the section with its parameters: sharded over {@code group} (whole on this rank
     * when null), fresh from {@code seed}, then overwritten by model.model_path's weights when set.
     * Under a group this is a collective.
     */
    public static RankAssembly open(ModelSection m, RankContext rank, long seed, ShardGroup group,
            boolean reshardAfterForward) throws IOException {
        return open(m, rank, seed, null, group, reshardAfterForward);
    }

    /**
     * As {@link #open(ModelSection, RankContext, long, ShardGroup, boolean)} on {@code mesh}: units
     * partitioned across a mesh dim (experts across ep) are held by their coordinate only
     * ({@link ParamStores#build(NDManager, List, DataType, long, DeviceMesh, ShardGroup, boolean)}).
     */
    public static RankAssembly open(ModelSection m, RankContext rank, long seed, DeviceMesh mesh, ShardGroup group,
            boolean reshardAfterForward) throws IOException {
        return open(m, options(m), rank, seed, mesh, group, reshardAfterForward);
    }

    /** As {@link #open(ModelSection, RankContext, long, DeviceMesh, ShardGroup, boolean)} with the job's train settings. */
    public static RankAssembly open(JobConfig job, RankContext rank, long seed, DeviceMesh mesh, ShardGroup group,
            boolean reshardAfterForward) throws IOException {
        return open(job.model(), options(job.model(), job.train()), rank, seed, mesh, group, reshardAfterForward);
    }

    private static RankAssembly open(ModelSection m, ModelOptions options, RankContext rank, long seed, DeviceMesh mesh,
            ShardGroup group, boolean reshardAfterForward) throws IOException {
        RankAssembly assembly = of(ModelFamilies.load(Path.of(m.hfConfigPath()), options), rank.manager(),
                DataType.FLOAT32, seed, mesh, group, reshardAfterForward);
        if (!m.modelPath().isBlank()) {
            assembly.loadOrClose(Path.of(m.modelPath()), rank.manager());
        }
        return assembly;
    }

    /** Config and weights of a HF folder, whole on this rank. */
    public static RankAssembly fromHf(Path dir, ModelOptions options, NDManager manager, DataType dtype)
            throws IOException {
        RankAssembly assembly = of(ModelFamilies.load(dir, options), manager, dtype, 0, null, false);
        assembly.loadOrClose(dir, manager);
        return assembly;
    }

    /**
     * {@code model} (which the assembly then owns) with fresh parameters from {@code seed}, sharded
     * over {@code group} (whole on this rank when null).
     */
    public static RankAssembly of(Model model, NDManager manager, DataType dtype, long seed, ShardGroup group,
            boolean reshardAfterForward) {
        return of(model, manager, dtype, seed, null, group, reshardAfterForward);
    }

    /** As {@link #of(Model, NDManager, DataType, long, ShardGroup, boolean)}, on {@code mesh} (null: none). */
    public static RankAssembly of(Model model, NDManager manager, DataType dtype, long seed, DeviceMesh mesh,
            ShardGroup group, boolean reshardAfterForward) {
        ParamStore params;
        try {
            params = ParamStores.build(manager, model.units(), dtype, seed, mesh, group, reshardAfterForward);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return new RankAssembly(model, params);
    }

    /** Overwrites the parameters with the weights of HF folder {@code dir} (under a group, a collective). */
    public void loadHf(Path dir, NDManager manager) throws IOException {
        HfCheckpoint.load(model, params, manager, dir);
    }

    private void loadOrClose(Path dir, NDManager manager) throws IOException {
        try {
            loadHf(dir, manager);
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Adds the optimizer and the trainer over {@code rows}. A collective over the data-parallel ranks
     * (see {@link Trainer}'s constructor).
     */
    public Trainer train(TrainConfig config, RankContext rank, RowSource rows, DataParallel dataParallel) {
        return train(config, rank, rows, dataParallel, java.util.function.UnaryOperator.identity());
    }

    /** {@link #train} with the trainer's plan seen through {@code planView} (a bench's probes). */
    public Trainer train(TrainConfig config, RankContext rank, RowSource rows, DataParallel dataParallel,
            java.util.function.UnaryOperator<ai.omnispark.models.api.Parallelize.Plan> planView) {
        if (trainer != null) {
            throw new IllegalStateException("this rank's trainer is already built");
        }
        optimizer = optimizer(config, rank);
        trainer = new Trainer(config, rank, model, params, optimizer, rows, dataParallel, DataType.FLOAT32, planView);
        return trainer;
    }

    /**
     * AdamW over the trainable units; a LoRA model's adapters form their own group at
     * {@code train.lora_lr} (the schedule's lr scaled by lora_lr / lr, so warmup and decay apply).
     */
    private Optimizer optimizer(TrainConfig config, RankContext rank) {
        if (model.lora() == null || config.loraLr() == config.lr()) {
            return new AdamW(rank.manager(), config.adamw());
        }
        ParamGroup adapters = new ParamGroup("lora", unit -> unit.endsWith(LORA_UNIT_SUFFIX),
                config.loraLr() / config.lr(), config.adamw().weightDecay());
        return new AdamW(rank.manager(), config.adamw(), List.of(adapters));
    }

    /** The suffix of an adapter unit's name ({@code LoraAdapters.unitOf}). */
    private static final String LORA_UNIT_SUFFIX = ai.omnispark.models.lora.LoraAdapters.unitOf("");

    public Model model() {
        return model;
    }

    public ParamStore params() {
        return params;
    }

    /** The trainer {@link #train} built; null before. */
    public Trainer trainer() {
        return trainer;
    }

    @Override
    public void close() {
        try (Model ownedModel = model; ParamStore ownedParams = params) {
            if (optimizer != null) {
                optimizer.close();
            }
        }
    }
}
