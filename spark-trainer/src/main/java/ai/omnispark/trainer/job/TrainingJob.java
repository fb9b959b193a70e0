package ai.omnispark.trainer.job;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.hf.HfConfig;
import ai.omnispark.models.llm.DecoderConfig;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainConfig;
import ai.omnispark.trainer.data.InMemoryRows;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.loop.Trainer;
import ai.omnispark.trainer.model.LoadedModel;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A whole training run on one rank: model, data, loop, metrics and the final HF export. */
public final class TrainingJob {
    private TrainingJob() {}

    /** Trains with {@code train.world_size} ranks in this JVM; prints progress and returns the summary. */
    public static TrainSummary run(Settings settings, PrintStream out) throws Exception {
        TrainConfig config = TrainConfig.from(settings, Math.max(1, settings.intValue("train.world_size")));
        Path outputDir = Path.of(config.outputDir());
        Files.createDirectories(outputDir);
        if (!Files.isWritable(outputDir)) {
            throw new ConfigException("train.output_dir " + outputDir + " is not writable");
        }
        boolean resuming = !settings.string("train.load_checkpoint_path").isBlank();
        try (MetricsLog metrics = new MetricsLog(outputDir.resolve("metrics.jsonl"), resuming)) {
            ProgressPrinter progress = new ProgressPrinter(out, config.logSteps());
            int maxRestarts = settings.intValue("train.max_restarts");
            Settings attemptSettings = settings;
            for (int attempt = 0; ; attempt++) {
                try {
                    return LocalLauncher.run(attemptSettings, (r, total) -> {
                        metrics.onStep(r, total);
                        progress.onStep(r, total);
                    }, out, attempt);
                } catch (ConfigException e) {
                    throw e;
                } catch (Exception e) {
                    if (attempt >= maxRestarts) {
                        throw e;
                    }
                    out.println("attempt " + (attempt + 1) + " failed (" + e.getMessage() + "); relaunching from the "
                            + "latest checkpoint, restart " + (attempt + 1) + " of " + maxRestarts);
                    attemptSettings = attemptSettings.with("train.load_checkpoint_path", "auto");
                }
            }
        }
    }

    public static LoadedModel loadModel(Settings s, RankContext rank, long seed) throws IOException {
        String modelPath = s.string("model.model_path");
        if (!modelPath.isBlank()) {
            return LoadedModel.fromHf(Path.of(modelPath), rank.manager(), DataType.FLOAT32);
        }
        DecoderConfig config = HfConfig.read(Path.of(s.string("model.config_path")));
        return LoadedModel.fresh(config, rank.manager(), DataType.FLOAT32, seed);
    }
}
