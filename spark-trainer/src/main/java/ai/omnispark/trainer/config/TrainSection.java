package ai.omnispark.trainer.config;

import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.parallel.comm.CommConfig;
import ai.omnispark.trainer.config.Key.Type;
import ai.omnispark.parallel.recompute.RecomputeMode;
import java.util.List;
import java.util.Map;

/**
 * The {@code train} section as written: each key typed and its allowed values checked. The
 * cross-checks that need the run's shape (batch divisibility, the parallel plan) are
 * {@link TrainConfig} and {@link ParallelPlan}; the parallel keys reach the checkpoint
 * fingerprint through the plan, which resolves them (e.g. DDP's replicate size).
 *
 * @param loraLr {@code train.lora_lr} as given; 0 = {@link #lr}, see {@link #effectiveLoraLr}
 * @param flowShift {@code train.flow_shift}, with {@link #timestepWeighting} and {@link #textDropout} a
 *     diffusion family's flow-matching settings ({@link #diffusion})
 * @param parallelPlan {@code train.parallel_plan}; auto: the launcher replaces the parallel sizes,
 *     micro-batch and recompute with the planner's choice (docs/plan.md) before the job is built
 * @param planMemoryGb {@code train.plan_memory_gb}: the per-rank memory the auto plan must fit
 * @param trimNativeHeap {@code train.trim_native_heap}: after each micro-batch's forward the C heap's
 *     free memory goes back to the system (SegmentEngine#trimAfterForward)
 */
public record TrainSection(
        String outputDir,
        @Fingerprint("train.global_batch_size") int globalBatchSize,
        int microBatchSize,
        double lr,
        double lrMin,
        double lrWarmupRatio,
        String lrDecayStyle,
        double weightDecay,
        double beta1,
        double beta2,
        double eps,
        double maxGradNorm,
        long maxSteps,
        int numTrainEpochs,
        long saveSteps,
        @Fingerprint("train.seed") long seed,
        int logSteps,
        boolean enableGradientCheckpointing,
        int threads,
        String tensorboardDir,
        boolean saveHfWeights,
        int worldSize,
        ParallelPlan.Mode dataParallelMode,
        int dataParallelShardSize,
        int dataParallelReplicateSize,
        Map<String, Object> accelerator,
        int ulyssesParallelSize,
        int expertParallelSize,
        boolean enableFullShard,
        boolean enableMixedPrecision,
        int saveTotalLimit,
        boolean asyncSave,
        String loadCheckpointPath,
        ResumePolicy resumePolicy,
        boolean enableProfiling,
        long profileStartStep,
        long profileEndStep,
        int maxRestarts,
        CommTransport commTransport,
        String commTcpCongestion,
        int commTimeoutS,
        double loraLr,
        double flowShift,
        String timestepWeighting,
        double textDropout,
        RecomputeMode recompute,
        double activationMemoryBudgetMb,
        PlanChoice parallelPlan,
        double planMemoryGb,
        boolean trimNativeHeap) {

    public static final List<Key> KEYS = List.of(
            new Key("train.output_dir", Type.STRING, "runs/default", "where metrics, checkpoints and the final HF folder go"),
            new Key("train.global_batch_size", Type.INT, 8L, "rows per optimizer step, over all data-parallel ranks"),
            new Key("train.micro_batch_size", Type.INT, 8L, "rows per forward/backward on one rank"),
            new Key("train.lr", Type.DOUBLE, 1e-3, "peak learning rate"),
            new Key("train.lr_min", Type.DOUBLE, 0.0, "learning rate at the end of decay"),
            new Key("train.lr_warmup_ratio", Type.DOUBLE, 0.0, "fraction of the steps spent in linear warmup"),
            new Key("train.lr_decay_style", Type.STRING, "constant", "constant | cosine | linear"),
            new Key("train.weight_decay", Type.DOUBLE, 0.0, "AdamW decoupled weight decay (matrices only)"),
            new Key("train.beta1", Type.DOUBLE, 0.9, "AdamW beta1"),
            new Key("train.beta2", Type.DOUBLE, 0.95, "AdamW beta2"),
            new Key("train.eps", Type.DOUBLE, 1e-8, "AdamW epsilon"),
            new Key("train.max_grad_norm", Type.DOUBLE, 1.0, "global gradient-norm clip; 0 disables"),
            new Key("train.max_steps", Type.INT, 0L, "optimizer steps; 0 = num_train_epochs over the data"),
            new Key("train.num_train_epochs", Type.INT, 1L, "epochs when max_steps is 0"),
            new Key("train.save_steps", Type.INT, 0L, "checkpoint every N steps; 0 = only at the end"),
            new Key("train.seed", Type.INT, 42L, "seed of initialisation and data order"),
            new Key("train.log_steps", Type.INT, 1L, "print a progress line every N steps"),
            new Key("train.enable_gradient_checkpointing", Type.BOOL, false, "recompute block activations in backward (train.recompute: block)"),
            new Key("train.recompute", Type.STRING, "none", "none | block | roi: what backward recomputes (docs/recompute.md); enable_gradient_checkpointing: true is the older spelling of block"),
            new Key("train.activation_memory_budget_mb", Type.DOUBLE, 0.0, "with train.recompute: roi, the activation memory per micro-batch and rank to fit (MiB); roi recomputes the best-value tensors until it fits"),
            new Key("train.threads", Type.INT, 0L, "intra-op threads per rank; 0 = cores / ranks"),
            new Key("train.tensorboard_dir", Type.STRING, "", "also write each step's metrics as TensorBoard scalars (event files) here; empty = off"),
            new Key("train.save_hf_weights", Type.BOOL, true, "write hf_ckpt/ in each checkpoint and OUTPUT_DIR/final_hf at the end"),
            new Key("train.world_size", Type.INT, 0L, "training ranks (barrier tasks); 0 = every task slot, 2 in local mode"),
            new Key("train.data_parallel_mode", Type.STRING, "fsdp", "fsdp | ddp | none (none needs world_size 1)"),
            new Key("train.data_parallel_shard_size", Type.INT, 0L, "ranks a unit is sharded over; 0 = world_size / replicate size"),
            new Key("train.data_parallel_replicate_size", Type.INT, 1L, "replicas of the shard group (HSDP when > 1)"),
            Key.map("train.accelerator", "VeOmni's parallel sizes: {ulysses_size, ep_size}; the flat keys train.ulysses_parallel_size / train.expert_parallel_size say the same",
                    new Key("train.accelerator.ulysses_size", Type.INT, null, "Ulysses sequence-parallel ranks per row (divides world_size)"),
                    new Key("train.accelerator.ep_size", Type.INT, null, "expert-parallel ranks the experts of each sparse layer are split over (divides world_size)")),
            new Key("train.ulysses_parallel_size", Type.INT, 1L, "Ulysses sequence-parallel ranks per row (train.accelerator.ulysses_size when that is given)"),
            new Key("train.expert_parallel_size", Type.INT, 1L, "expert-parallel ranks (train.accelerator.ep_size when that is given)"),
            new Key("train.enable_full_shard", Type.BOOL, true, "free gathered parameters after forward and gather again in backward"),
            new Key("train.enable_mixed_precision", Type.BOOL, false, "not implemented yet (training runs in fp32); true is refused"),
            new Key("train.save_total_limit", Type.INT, 0L, "keep only the newest K checkpoints; 0 = keep all"),
            new Key("train.async_save", Type.BOOL, false, "write checkpoints from a background thread while training goes on"),
            new Key("train.load_checkpoint_path", Type.STRING, "", "a global_step_N folder to resume from, or auto = the latest under output_dir"),
            new Key("train.resume_policy", Type.STRING, "strict", "strict (refuse a checkpoint whose model, data or parallel configuration differs, naming the keys) | allow_changes (resume anyway and print the differences)"),
            new Key("train.enable_profiling", Type.BOOL, false, "record a Chrome trace of the profiled steps on every rank, merged into OUTPUT_DIR/profile/trace.json"),
            new Key("train.profile_start_step", Type.INT, 1L, "profiling starts once this many steps are done"),
            new Key("train.profile_end_step", Type.INT, 2L, "profiling stops after this step: it records steps profile_start_step + 1 to profile_end_step"),
            new Key("train.max_restarts", Type.INT, 0L, "relaunch a failed job this many times, resuming from the latest checkpoint"),
            new Key("train.comm_transport", Type.STRING, "auto", "auto (in-process when the ranks share a JVM, Unix domain sockets between JVMs of one host, else TCP) | in_process | unix (sockets, Unix domain ones on one host) | tcp (TCP even on one host)"),
            new Key("train.comm_tcp_congestion", Type.STRING, "auto", "TCP congestion control of the collective links: auto (reno on links to this host, which go over loopback, where pacing only costs CPU; the system's elsewhere) | system | an algorithm the host allows, e.g. reno, cubic, bbr"),
            new Key("train.comm_timeout_s", Type.INT, 600L, "seconds any collective may wait for a peer before the job fails"),
            new Key("train.lora_lr", Type.DOUBLE, 0.0, "learning rate of the LoRA adapters; 0 = train.lr"),
            new Key("train.flow_shift", Type.DOUBLE, 5.0, "diffusion (wan): shift s of the flow-matching sigmas, sigma' = s sigma / (1 + (s - 1) sigma)"),
            new Key("train.timestep_weighting", Type.STRING, "none", "diffusion (wan): none | gaussian (loss weights peaked at t = 500, mean 1 over the 1000-step grid)"),
            new Key("train.text_dropout", Type.DOUBLE, 0.1, "diffusion (wan): probability that a sample's text embedding is replaced by the empty prompt's (zeros)"),
            new Key("train.parallel_plan", Type.STRING, "manual", "manual (the parallel keys as written) | auto (bin/omnispark train runs the planner at launch and applies its choice of replicate x shard x sp x ep, recompute and micro-batch; docs/plan.md)"),
            new Key("train.plan_memory_gb", Type.DOUBLE, 0.0, "per-rank memory (GiB) the auto plan must fit; required with parallel_plan auto"),
            new Key("train.trim_native_heap", Type.BOOL, true, "after each micro-batch's forward, give the C heap's freed memory back to the system (glibc malloc_trim): a lower peak RSS for some step time"));

    static TrainSection parse(Settings s) {
        String congestion = s.string("train.comm_tcp_congestion");
        if (!CommConfig.isValidTcpCongestion(congestion)) {
            throw new ConfigException("train.comm_tcp_congestion must be auto, system or an algorithm name "
                    + "such as reno or cubic, got '" + congestion + "'");
        }
        double loraLr = s.number("train.lora_lr");
        if (!(loraLr >= 0)) {
            throw new ConfigException("train.lora_lr must be >= 0 (0 = train.lr), got " + loraLr);
        }
        return new TrainSection(s.string("train.output_dir"), s.intValue("train.global_batch_size"),
                s.intValue("train.micro_batch_size"), s.number("train.lr"), s.number("train.lr_min"),
                s.number("train.lr_warmup_ratio"), s.string("train.lr_decay_style"), s.number("train.weight_decay"),
                s.number("train.beta1"), s.number("train.beta2"), s.number("train.eps"),
                s.number("train.max_grad_norm"), s.integer("train.max_steps"), s.intValue("train.num_train_epochs"),
                s.integer("train.save_steps"), s.integer("train.seed"), s.intValue("train.log_steps"),
                s.flag("train.enable_gradient_checkpointing"), s.intValue("train.threads"),
                s.string("train.tensorboard_dir"), s.flag("train.save_hf_weights"), s.intValue("train.world_size"),
                mode(s.string("train.data_parallel_mode")), s.intValue("train.data_parallel_shard_size"),
                s.intValue("train.data_parallel_replicate_size"), s.map("train.accelerator"), parallelSize(s, "ulysses_size", "train.ulysses_parallel_size"),
                parallelSize(s, "ep_size", "train.expert_parallel_size"), s.flag("train.enable_full_shard"),
                s.flag("train.enable_mixed_precision"), s.intValue("train.save_total_limit"),
                s.flag("train.async_save"), s.string("train.load_checkpoint_path"),
                ResumePolicy.parse(s.string("train.resume_policy")), s.flag("train.enable_profiling"),
                s.integer("train.profile_start_step"), s.integer("train.profile_end_step"),
                s.intValue("train.max_restarts"), CommTransport.parse(s.string("train.comm_transport")), congestion,
                s.intValue("train.comm_timeout_s"), loraLr, diffusion(s).flowShift(),
                diffusion(s).timestepWeighting(), diffusion(s).textDropout(), recompute(s), budget(s),
                PlanChoice.parse(s.string("train.parallel_plan")), planMemoryGb(s), s.flag("train.trim_native_heap"));
    }

    /** train.flow_shift, train.timestep_weighting and train.text_dropout as a diffusion family takes them. */
    public DiffusionOptions diffusion() {
        return new DiffusionOptions(flowShift, timestepWeighting, textDropout);
    }

    private static DiffusionOptions diffusion(Settings s) {
        try {
            return new DiffusionOptions(s.number("train.flow_shift"), s.string("train.timestep_weighting"),
                    s.number("train.text_dropout"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    /**
     * train.recompute, with enable_gradient_checkpointing: true meaning block (the flag is the older
     * spelling, so with the default none it asks for block); the flag with roi is refused.
     */
    private static RecomputeMode recompute(Settings s) {
        String text = s.string("train.recompute");
        boolean checkpointing = s.flag("train.enable_gradient_checkpointing");
        RecomputeMode mode;
        try {
            mode = RecomputeMode.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        if (checkpointing && mode == RecomputeMode.ROI) {
            throw new ConfigException("train.enable_gradient_checkpointing: true means train.recompute: block, but "
                    + "train.recompute is roi; set only one of them");
        }
        return checkpointing ? RecomputeMode.BLOCK : mode;
    }

    private static double budget(Settings s) {
        double mb = s.number("train.activation_memory_budget_mb");
        boolean roi = recompute(s) == RecomputeMode.ROI;
        if (roi && !(mb > 0)) {
            throw new ConfigException("train.recompute: roi needs train.activation_memory_budget_mb > 0 (the "
                    + "activation memory per micro-batch and rank to fit, MiB), got " + mb);
        }
        if (!roi && mb != 0) {
            throw new ConfigException("train.activation_memory_budget_mb is only used with train.recompute: roi, "
                    + "but train.recompute is " + recompute(s));
        }
        return mb;
    }

    /**
     * A parallel size given as {@code train.accelerator.FIELD} (VeOmni's nesting) or as the flat key
     * (default 1): the nested one wins over a flat one left at 1; two different sizes are refused.
     */
    private static int parallelSize(Settings s, String field, String flatKey) {
        long flat = s.integer(flatKey);
        Map<String, Object> accelerator = s.map("train.accelerator");
        Object nested = accelerator == null ? null : accelerator.get(field);
        if (flat < 1) {
            throw new ConfigException(flatKey + " must be >= 1, got " + flat);
        }
        if (nested == null) {
            return Math.toIntExact(flat);
        }
        long n = ((Number) nested).longValue();
        if (n < 1) {
            throw new ConfigException("train.accelerator." + field + " must be >= 1, got " + n);
        }
        if (flat != 1 && flat != n) {
            throw new ConfigException("train.accelerator." + field + " (" + n + ") and " + flatKey + " (" + flat
                    + ") disagree; give one of them");
        }
        return Math.toIntExact(n);
    }

    private static double planMemoryGb(Settings s) {
        double gb = s.number("train.plan_memory_gb");
        if (!(gb >= 0)) {
            throw new ConfigException("train.plan_memory_gb must be >= 0, got " + gb);
        }
        if (gb == 0 && "auto".equals(s.string("train.parallel_plan"))) {
            throw new ConfigException("train.parallel_plan auto needs train.plan_memory_gb: the per-rank memory "
                    + "(GiB) the chosen plan must fit");
        }
        return gb;
    }

    private static ParallelPlan.Mode mode(String name) {
        return switch (name) {
            case "fsdp" -> ParallelPlan.Mode.FSDP;
            case "ddp" -> ParallelPlan.Mode.DDP;
            case "none" -> ParallelPlan.Mode.NONE;
            default -> throw new ConfigException("train.data_parallel_mode must be fsdp, ddp or none, got '"
                    + name + "'");
        };
    }

    /** Whether {@code train.parallel_plan} is auto: the sizes are the planner's, resolved at launch. */
    public boolean autoParallelPlan() {
        return parallelPlan == PlanChoice.AUTO;
    }

    /** The LoRA adapters' learning rate: {@code train.lora_lr}, or {@code train.lr} when it is 0. */
    public double effectiveLoraLr() {
        return loraLr > 0 ? loraLr : lr;
    }
}
