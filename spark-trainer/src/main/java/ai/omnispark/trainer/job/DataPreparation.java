package ai.omnispark.trainer.job;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.pack.DocumentPacker;
import ai.omnispark.data.pipeline.DataType;
import ai.omnispark.data.pipeline.InputFormat;
import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.data.pipeline.PreparePipeline;
import ai.omnispark.data.pipeline.PrepareResult;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelFamily;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.DataSection;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.data.SampleLayouts;
import ai.omnispark.trainer.data.ShardRows;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * The driver-side bridge from {@code data.*} settings to the data pipeline's prepare step: which
 * input is raw, where its shards go, and running the step with a log line that says why it ran.
 */
public final class DataPreparation {
    private DataPreparation() {}

    /** {@code data.output_path}, or {@code OUTPUT_DIR/data} when it is empty. */
    public static String outputPath(Settings s) {
        return outputPath(JobConfig.from(s));
    }

    static String outputPath(JobConfig job) {
        String out = job.data().outputPath();
        return out.isBlank() ? new Path(job.train().outputDir(), "data").toString() : out;
    }

    /** The prepare step's settings for {@code data.train_path} (checked; a bad value is a {@link ConfigException}). */
    public static PrepareConfig config(Settings s) {
        JobConfig job = JobConfig.from(s);
        DataSection data = job.data();
        if (data.trainPath().isBlank()) {
            throw new ConfigException("data.train_path is not set: the raw records to prepare");
        }
        try {
            JsonNode model = modelConfig(job);
            MediaOptions d = MediaOptions.DEFAULTS;
            MediaOptions media = new MediaOptions(d.patchSize(), d.mergeSize(), data.minPixels(),
                    data.maxPixels(), data.fps(), data.maxFrames(), d.temporalPatchSize());
            return PrepareConfig.builder()
                    .inputPath(data.trainPath())
                    .format(InputFormat.parse(data.format()))
                    .dataType(DataType.parse(data.dataType()))
                    .textKeys(data.textKeyList())
                    .messagesKey(data.messagesKey())
                    .imageKey(data.imageKey())
                    .videoKey(data.videoKey())
                    .maxSeqLen(data.maxSeqLen())
                    .rowsPerBatch(data.rowsPerBatch())
                    .overflow(overflow(data.overflow()))
                    .maxRejectRatio(data.maxRejectRatio())
                    .numShards(data.numShards())
                    .media(media)
                    .imageTokenId(tokenId(data.imageTokenId(), model, "image_token_id"))
                    .videoTokenId(tokenId(data.videoTokenId(), model, "video_token_id"))
                    .visionMarkers(visionMarkers(data.visionMarkers(), model))
                    .visionStartTokenId(tokenId(data.visionStartTokenId(), model, "vision_start_token_id"))
                    .visionEndTokenId(tokenId(data.visionEndTokenId(), model, "vision_end_token_id"))
                    .latentChannels(data.latentChannels())
                    .textEmbedDim(data.textEmbedDim())
                    .textEmbedLen(data.textEmbedLen())
                    .imageToVideo(data.imageToVideo())
                    .tokenizerPath(job.model().tokenizerPath())
                    .outputPath(outputPath(job))
                    .build();
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage(), e);
        }
    }

    /**
     * The config.json of the model the settings name ({@code model.model_path} or
     * {@code model.config_path}), or null when they name none or it does not exist yet: the
     * prepare step takes a vision-language model's special token ids from it.
     */
    static JsonNode modelConfig(JobConfig job) {
        String path = job.model().hfConfigPath();
        if (path.isBlank()) {
            return null;
        }
        java.nio.file.Path p = java.nio.file.Path.of(path);
        java.nio.file.Path file = Files.isDirectory(p) ? p.resolve("config.json") : p;
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return ModelFamilies.readConfig(p);
        } catch (IOException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /** {@code given} when set (>= 0), else the model config's {@code key}, else -1 (the vocabulary-derived default). */
    private static int tokenId(int given, JsonNode model, String key) {
        if (given >= 0 || model == null || !model.path(key).isIntegralNumber()) {
            return given;
        }
        return model.get(key).asInt();
    }

    /** {@code data.vision_markers}: auto turns them on for a model whose config.json names vision_start_token_id. */
    private static boolean visionMarkers(String value, JsonNode model) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            case "auto" -> model != null && model.has("vision_start_token_id");
            default -> throw new ConfigException("data.vision_markers must be true, false or auto, got '" + value + "'");
        };
    }

    /**
     * True when {@code data.train_path} is raw records (not the in-memory synthetic sample, not
     * already a prepared dataset), so training needs the prepare step first.
     */
    public static boolean isRaw(Settings s, Configuration hadoop) throws IOException {
        String path = JobConfig.from(s).data().trainPath();
        if (path.isBlank()) {
            throw new ConfigException("data.train_path is not set");
        }
        if (path.equals(TrainingData.SYNTHETIC_TEXT)) {
            return false;
        }
        Path p = new Path(path);
        return !ShardRows.isDataset(p.getFileSystem(hadoop), p);
    }

    /**
     * Runs the prepare step (skipped when the manifest's fingerprint matches) and says on
     * {@code log} whether the manifest was missing, stale or current.
     */
    public static PrepareResult prepare(SparkSession spark, Settings s, PrintStream log) throws IOException {
        PrepareConfig config = config(s);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        checkInput(config, hadoop);
        Path out = new Path(config.outputPath());
        boolean hadManifest = Manifest.read(out.getFileSystem(hadoop), out).isPresent();
        if (PreparePipeline.current(config, hadoop).isEmpty()) {
            log.println("data: " + (hadManifest ? "the manifest at " + out + " is stale (the input or the data "
                    + "settings changed)" : "no manifest at " + out) + "; preparing " + config.inputPath());
        }
        PrepareResult result = PreparePipeline.run(spark, config);
        log.println("data: " + (result.skipped() ? "up to date" : "prepared") + " at " + out + " ("
                + result.rows() + (config.dataType() == DataType.VIDEO_LATENT ? " latent rows, " : " packed rows, ")
                + result.documents() + " documents, " + result.rejected()
                + " rejected)");
        return result;
    }

    /** A missing input is a configuration error, not a failed job: the path is named. */
    public static void checkInput(PrepareConfig config, Configuration hadoop) throws IOException {
        Path in = new Path(config.inputPath());
        org.apache.hadoop.fs.FileStatus[] inputs = in.getFileSystem(hadoop).globStatus(in);
        if (inputs == null || inputs.length == 0) {
            throw new ConfigException("data.train_path " + in + " matches no file");
        }
    }

    /**
     * Settings whose {@code data.train_path} a rank can stream: raw input is prepared first (see
     * {@link #prepare}) and replaced by its dataset; anything else is returned unchanged.
     */
    public static Settings ensurePrepared(SparkSession spark, Settings s, PrintStream log) throws IOException {
        if (!isRaw(s, spark.sparkContext().hadoopConfiguration())) {
            return s;
        }
        // What the driver would refuse after preparing is refused before the Spark job runs.
        checkFamilyTakes(s, s.string("data.train_path"), config(s).dataType().sampleLayout());
        PrepareResult result = prepare(spark, s, log);
        return s.with("data.train_path", new Path(result.manifestPath()).getParent().toString());
    }

    /**
     * Fails before launch when {@code data.train_path} is a prepared dataset whose rows the model
     * family cannot take (a text model on image shards). Anything else a rank reads is token rows:
     * the synthetic sample and raw JSON lines read in memory as text.
     */
    public static void checkSampleLayout(Settings s, Configuration hadoop) throws IOException {
        String path = s.string("data.train_path");
        if (path.isBlank() || path.equals(TrainingData.SYNTHETIC_TEXT)) {
            return;
        }
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(hadoop);
        if (!ShardRows.isDataset(fs, p)) {
            return;
        }
        SampleLayout layout = SampleLayouts.of(fs, p);
        checkFamilyTakes(s, path, layout);
        JsonNode model = modelConfig(JobConfig.from(s));
        if (layout == SampleLayout.TOKENS_WITH_MEDIA && model != null) {
            Manifest manifest = Manifest.read(fs, p).orElseThrow();
            SampleLayouts.checkMediaTokens(path, manifest.config(), model);
        }
    }

    /** The family of the model the settings name, from its config.json, without building it. */
    private static void checkFamilyTakes(Settings s, String dataset, SampleLayout layout) throws IOException {
        ModelFamily family = ModelFamilies.forConfig(ModelFamilies.readConfig(
                java.nio.file.Path.of(JobConfig.from(s).model().hfConfigPath())));
        SampleLayouts.check(dataset, layout, family.name(), family.sampleLayouts());
    }

    private static DocumentPacker.Overflow overflow(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "truncate" -> DocumentPacker.Overflow.TRUNCATE;
            case "reject" -> DocumentPacker.Overflow.REJECT;
            default -> throw new ConfigException("data.overflow must be truncate or reject, got '" + value + "'");
        };
    }
}
