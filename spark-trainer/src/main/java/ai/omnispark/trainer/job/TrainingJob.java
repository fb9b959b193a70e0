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

    public static TrainSummary run(Settings settings, PrintStream out) throws IOException {
        TrainConfig config = TrainConfig.from(settings, 1);
        Path outputDir = Path.of(config.outputDir());
        Files.createDirectories(outputDir);
        if (!Files.isWritable(outputDir)) {
            throw new ConfigException("train.output_dir " + outputDir + " is not writable");
        }
        int threads = config.threads() > 0 ? config.threads() : Runtime.getRuntime().availableProcessors();
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (LoadedModel loaded = loadModel(settings, rank, config.seed())) {
                Tokenizer tokenizer = TrainingData.tokenizer(settings);
                if (tokenizer.vocabSize() > loaded.model().config().vocabSize()) {
                    throw new ConfigException("the tokenizer has " + tokenizer.vocabSize()
                            + " ids but the model's vocab_size is " + loaded.model().config().vocabSize());
                }
                List<PackedRow> rows = TrainingData.rows(settings, tokenizer);
                InMemoryRows source = new InMemoryRows(rows, config.seed(), 0, 1);
                Trainer trainer = new Trainer(config, rank, loaded.model(), loaded.params(), source, x -> x,
                        DataType.FLOAT32);
                for (String line : trainer.describe()) {
                    out.println(line);
                }
                out.println("data " + rows.size() + " packed rows of " + config.maxSeqLen() + " tokens");
                RunStats stats = new RunStats();
                try (MetricsLog metrics = new MetricsLog(outputDir.resolve("metrics.jsonl"), false)) {
                    ProgressPrinter progress = new ProgressPrinter(out, config.logSteps());
                    trainer.run(trainer.totalSteps(), (r, total) -> {
                        stats.add(r);
                        metrics.onStep(r, total);
                        progress.onStep(r, total);
                    });
                }
                String hfDir = null;
                if (config.saveHfWeights()) {
                    Path hf = outputDir.resolve("final_hf");
                    HfCheckpoint.export(loaded.model(), loaded.params(), rank.manager(), hf, SafeDType.F32);
                    hfDir = hf.toString();
                }
                return stats.summary(outputDir.toString(), hfDir, 1, 0);
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

    /** Running totals of a run's steps. */
    static final class RunStats {
        long steps;
        double initialLoss = Double.NaN;
        double finalLoss = Double.NaN;
        long tokens;
        double stepMs;
        double dataWaitMs;

        void add(StepResult r) {
            if (steps == 0) {
                initialLoss = r.loss();
            }
            steps++;
            finalLoss = r.loss();
            tokens += r.tokens();
            stepMs += r.stepMs();
            dataWaitMs += r.dataWaitMs();
        }

        TrainSummary summary(String outputDir, String hfDir, int worldSize, int restarts) {
            double tps = stepMs > 0 ? tokens / (stepMs / 1000) : 0;
            double wait = stepMs > 0 ? dataWaitMs / stepMs : 0;
            return new TrainSummary(steps, initialLoss, finalLoss, tps, wait, outputDir, hfDir, worldSize, restarts);
        }
    }
}
