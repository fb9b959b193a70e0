package ai.omnispark.trainer.config;

import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.optim.LrSchedule;

/**
 * The typed, cross-checked view of {@link Settings} that the trainer runs from. Construction fails
 * before any work if a value is impossible, naming the key.
 */
public record TrainConfig(
        Settings settings,
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
        boolean saveHfWeights) {

    public static TrainConfig from(Settings s, int dataParallelSize) {
        int global = positiveInt(s, "train.global_batch_size");
        int micro = positiveInt(s, "train.micro_batch_size");
        if (global % ((long) micro * dataParallelSize) != 0) {
            throw new ConfigException("train.global_batch_size (" + global + ") must be divisible by "
                    + "train.micro_batch_size (" + micro + ") x data-parallel size (" + dataParallelSize + ")");
        }
        int maxSeqLen = positiveInt(s, "data.max_seq_len");
        if (maxSeqLen < 2) {
            throw new ConfigException("data.max_seq_len must be >= 2, got " + maxSeqLen);
        }
        double lr = s.number("train.lr");
        if (!(lr > 0)) {
            throw new ConfigException("train.lr must be > 0, got " + lr);
        }
        double lrMin = s.number("train.lr_min");
        if (lrMin < 0 || lrMin > lr) {
            throw new ConfigException("train.lr_min must be in [0, train.lr], got " + lrMin);
        }
        double warmup = s.number("train.lr_warmup_ratio");
        if (warmup < 0 || warmup > 1) {
            throw new ConfigException("train.lr_warmup_ratio must be in [0, 1], got " + warmup);
        }
        LrSchedule.Decay decay;
        try {
            decay = LrSchedule.decay(s.string("train.lr_decay_style"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        AdamW.Config adamw;
        try {
            adamw = new AdamW.Config(s.number("train.beta1"), s.number("train.beta2"), s.number("train.eps"),
                    s.number("train.weight_decay"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("train.beta1/beta2/eps/weight_decay: " + e.getMessage());
        }
        double clip = s.number("train.max_grad_norm");
        if (clip < 0) {
            throw new ConfigException("train.max_grad_norm must be >= 0 (0 disables), got " + clip);
        }
        long maxSteps = s.integer("train.max_steps");
        if (maxSteps < 0) {
            throw new ConfigException("train.max_steps must be >= 0 (0 = by epochs), got " + maxSteps);
        }
        int epochs = positiveInt(s, "train.num_train_epochs");
        long saveSteps = s.integer("train.save_steps");
        if (saveSteps < 0) {
            throw new ConfigException("train.save_steps must be >= 0, got " + saveSteps);
        }
        int threads = s.intValue("train.threads");
        if (threads < 0) {
            throw new ConfigException("train.threads must be >= 0 (0 = automatic), got " + threads);
        }
        String outputDir = s.string("train.output_dir");
        if (outputDir.isBlank()) {
            throw new ConfigException("train.output_dir must not be empty");
        }
        if (s.string("data.train_path").isBlank()) {
            throw new ConfigException("data.train_path must name the training data");
        }
        if (s.string("model.config_path").isBlank() == s.string("model.model_path").isBlank()) {
            throw new ConfigException("set exactly one of model.config_path (fresh weights) and "
                    + "model.model_path (load HF weights)");
        }
        return new TrainConfig(s, outputDir, global, micro, dataParallelSize, maxSeqLen, lr, lrMin, warmup,
                decay, adamw, clip, maxSteps, epochs, saveSteps, s.integer("train.seed"),
                positiveInt(s, "train.log_steps"), s.flag("train.enable_gradient_checkpointing"), threads,
                s.flag("train.save_hf_weights"));
    }

    private static int positiveInt(Settings s, String key) {
        int v = s.intValue(key);
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
