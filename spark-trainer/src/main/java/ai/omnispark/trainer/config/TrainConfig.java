package ai.omnispark.trainer.config;

import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.optim.LrSchedule;
import ai.omnispark.parallel.recompute.RecomputeMode;

/**
 * What the trainer runs from: the {@link JobConfig}'s values cross-checked against each other and
 * the data-parallel size. Construction fails before any work if a value is impossible, naming the
 * key.
 *
 * @param loraLr the LoRA adapters' learning rate ({@code train.lora_lr}, or {@code lr} when unset)
 * @param recompute whether anything is recomputed (block or roi); {@code recomputeMode} says which
 * @param activationBudgetBytes with roi, the activation memory per micro-batch to fit ({@code train.activation_memory_budget_mb})
 */
public record TrainConfig(
        JobConfig job,
        String outputDir,
        int globalBatchSize,
        int microBatchSize,
        int dataParallelSize,
        int maxSeqLen,
        double lr,
        double lrMin,
        double warmupRatio,
        LrSchedule.Decay decay,
        AdamW.Config adamw,
        double maxGradNorm,
        long maxSteps,
        int epochs,
        long saveSteps,
        long seed,
        int logSteps,
        boolean recompute,
        int threads,
        boolean saveHfWeights,
        double loraLr,
        RecomputeMode recomputeMode,
        long activationBudgetBytes) {

    public static TrainConfig from(Settings s, int dataParallelSize) {
        return from(JobConfig.from(s), dataParallelSize);
    }

    public static TrainConfig from(JobConfig job, int dataParallelSize) {
        TrainSection t = job.train();
        int global = positive("train.global_batch_size", t.globalBatchSize());
        int micro = positive("train.micro_batch_size", t.microBatchSize());
        if (global % ((long) micro * dataParallelSize) != 0) {
            throw new ConfigException("train.global_batch_size (" + global + ") must be divisible by "
                    + "train.micro_batch_size (" + micro + ") x data-parallel size (" + dataParallelSize + ")");
        }
        int maxSeqLen = positive("data.max_seq_len", job.data().maxSeqLen());
        if (maxSeqLen < 2) {
            throw new ConfigException("data.max_seq_len must be >= 2, got " + maxSeqLen);
        }
        double lr = t.lr();
        if (!(lr > 0)) {
            throw new ConfigException("train.lr must be > 0, got " + lr);
        }
        double lrMin = t.lrMin();
        if (lrMin < 0 || lrMin > lr) {
            throw new ConfigException("train.lr_min must be in [0, train.lr], got " + lrMin);
        }
        double warmup = t.lrWarmupRatio();
        if (warmup < 0 || warmup > 1) {
            throw new ConfigException("train.lr_warmup_ratio must be in [0, 1], got " + warmup);
        }
        LrSchedule.Decay decay;
        try {
            decay = LrSchedule.decay(t.lrDecayStyle());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        AdamW.Config adamw;
        try {
            adamw = new AdamW.Config(t.beta1(), t.beta2(), t.eps(), t.weightDecay());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("train.beta1/beta2/eps/weight_decay: " + e.getMessage());
        }
        double clip = t.maxGradNorm();
        if (clip < 0) {
            throw new ConfigException("train.max_grad_norm must be >= 0 (0 disables), got " + clip);
        }
        long maxSteps = t.maxSteps();
        if (maxSteps < 0) {
            throw new ConfigException("train.max_steps must be >= 0 (0 = by epochs), got " + maxSteps);
        }
        int epochs = positive("train.num_train_epochs", t.numTrainEpochs());
        long saveSteps = t.saveSteps();
        if (saveSteps < 0) {
            throw new ConfigException("train.save_steps must be >= 0, got " + saveSteps);
        }
        int threads = t.threads();
        if (threads < 0) {
            throw new ConfigException("train.threads must be >= 0 (0 = automatic), got " + threads);
        }
        String outputDir = t.outputDir();
        if (outputDir.isBlank()) {
            throw new ConfigException("train.output_dir must not be empty");
        }
        if (job.data().trainPath().isBlank()) {
            throw new ConfigException("data.train_path must name the training data");
        }
        if (job.model().configPath().isBlank() == job.model().modelPath().isBlank()) {
            throw new ConfigException("set exactly one of model.config_path (fresh weights) and "
                    + "model.model_path (load HF weights)");
        }
        return new TrainConfig(job, outputDir, global, micro, dataParallelSize, maxSeqLen, lr, lrMin, warmup,
                decay, adamw, clip, maxSteps, epochs, saveSteps, t.seed(), positive("train.log_steps", t.logSteps()),
                t.recompute() != RecomputeMode.NONE, threads, t.saveHfWeights(), t.effectiveLoraLr(), t.recompute(),
                (long) (t.activationMemoryBudgetMb() * (1 << 20)));
    }

    private static int positive(String key, int v) {
        if (v <= 0) {
            throw new ConfigException(key + " must be > 0, got " + v);
        }
        return v;
    }

    /** Micro-batches each rank runs per optimizer step. */
    public int accumulationSteps() {
        return globalBatchSize / (microBatchSize * dataParallelSize);
    }
}
