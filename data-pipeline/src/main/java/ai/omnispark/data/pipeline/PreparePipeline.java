package ai.omnispark.data.pipeline;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardSchema;
import ai.omnispark.data.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * The prepare step: raw records in, tokenized and packed Arrow shards plus {@code manifest.json}
 * out. Each Spark partition becomes one shard, written by its executor; the driver only collects
 * the per-partition counts and writes the manifest.
 *
 * <p>Everything is written to a hidden sibling directory and renamed into place once the manifest
 * is in it, so the output path holds either the previous dataset or the new, complete one.
 */
public final class PreparePipeline {
    private PreparePipeline() {}

    /** Reads {@code config.inputPath()} in {@code config.format()} and prepares it. */
    public static PrepareResult run(SparkSession spark, PrepareConfig config) {
        if (config.inputPath() == null || config.inputPath().isBlank()) {
            throw new IllegalArgumentException("data.train_path (the input) is required");
        }
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try {
            String fingerprint = fingerprint(config, conf);
            Optional<PrepareResult> done = upToDate(config, conf, fingerprint);
            if (done.isPresent()) {
                return done.get();
            }
            Dataset<Row> input = switch (config.format()) {
                case JSON -> spark.read().text(config.inputPath())
                        .select(functions.col(PartitionTask.LINE_COLUMN),
                                functions.input_file_name().as(PartitionTask.SOURCE_COLUMN));
                case PARQUET -> spark.read().parquet(config.inputPath())
                        .withColumn(PartitionTask.SOURCE_COLUMN, functions.input_file_name());
            };
            return execute(input, config, conf, fingerprint, config.format() == InputFormat.JSON);
        } catch (IOException e) {
            throw new UncheckedIOException("prepare of " + config.inputPath() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * The dataset already at {@code config.outputPath()} when its manifest matches what a run over
     * {@code config.inputPath()} would produce now; empty when it is missing or stale. Needs no
     * Spark, so a scheduler can tell "nothing to do" without starting a session.
     */
    public static Optional<PrepareResult> current(PrepareConfig config, Configuration conf) throws IOException {
        if (config.inputPath() == null || config.inputPath().isBlank()) {
            throw new IllegalArgumentException("data.train_path (the input) is required");
        }
        return upToDate(config, conf, fingerprint(config, conf));
    }

    private static String fingerprint(PrepareConfig config, Configuration conf) throws IOException {
        List<String> inputs = new ArrayList<>(Fingerprint.listInputs(config.inputPath(), conf));
        inputs.add("tokenizer:" + TokenizerLoader.describe(config, conf));
        return Fingerprint.of(config, inputs);
    }

    /**
     * Prepares a caller's DataFrame (columns named as in the config). Its files, when Spark knows
     * them, go into the fingerprint; an in-memory DataFrame has none, so it is always prepared anew.
     */
    public static PrepareResult run(SparkSession spark, Dataset<Row> df, PrepareConfig config) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        String[] files = df.inputFiles();
        List<String> inputs = new ArrayList<>();
        try {
            for (String file : files) {
                Path path = new Path(file);
                FileStatus status = path.getFileSystem(conf).getFileStatus(path);
                inputs.add(status.getPath() + "|" + status.getLen() + "|" + status.getModificationTime());
            }
            inputs.sort(null);
            inputs.add(df.schema().json());
            if (files.length == 0) {
                inputs.add("in-memory:" + UUID.randomUUID());
            }
            inputs.add("tokenizer:" + TokenizerLoader.describe(config, conf));
            String fingerprint = Fingerprint.of(config, inputs);
            Optional<PrepareResult> done = upToDate(config, conf, fingerprint);
            if (done.isPresent()) {
                return done.get();
            }
            Dataset<Row> input = Arrays.asList(df.columns()).contains(PartitionTask.SOURCE_COLUMN) ? df
                    : df.withColumn(PartitionTask.SOURCE_COLUMN, functions.input_file_name());
            return execute(input, config, conf, fingerprint, false);
        } catch (IOException e) {
            throw new UncheckedIOException("prepare failed: " + e.getMessage(), e);
        }
    }

    private static Optional<PrepareResult> upToDate(PrepareConfig config, Configuration conf, String fingerprint)
            throws IOException {
        Path out = new Path(config.outputPath());
        FileSystem fs = out.getFileSystem(conf);
        Optional<Manifest> existing = Manifest.read(fs, out);
        if (existing.isPresent() && existing.get().fingerprint().equals(fingerprint)) {
            // Qualified, as a fresh run names it: callers key checkpoints and logs on this path.
            return Optional.of(new PrepareResult(new Path(fs.makeQualified(out), Manifest.FILE_NAME).toString(),
                    existing.get(), true));
        }
        // Publishing replaces the output directory, so it must be ours (a dataset) or empty: a
        // mistyped output path must not delete someone's files.
        if (existing.isEmpty() && fs.exists(out)
                && (!fs.getFileStatus(out).isDirectory() || fs.listStatus(out).length > 0)) {
            throw new IllegalArgumentException("data.output_path " + out + " exists and is not a prepared dataset "
                    + "(no " + Manifest.FILE_NAME + "); choose a new or empty directory");
        }
        return Optional.empty();
    }

    private static PrepareResult execute(Dataset<Row> input, PrepareConfig config, Configuration conf,
            String fingerprint, boolean jsonLines) throws IOException {
        Path out = new Path(config.outputPath());
        FileSystem fs = out.getFileSystem(conf);
        Path qualifiedOut = fs.makeQualified(out);
        Path work = new Path(qualifiedOut.getParent(), "." + qualifiedOut.getName() + ".tmp-" + UUID.randomUUID());
        fs.mkdirs(work);
        Dataset<Row> partitions = config.numShards() > 0 ? input.repartition(config.numShards()) : input;
        List<PartitionStats> stats;
        Broadcast<HadoopConf> hadoop = JavaSparkContext.fromSparkContext(input.sparkSession().sparkContext())
                .broadcast(new HadoopConf(conf));
        try {
            stats = partitions.mapPartitions(new PartitionTask(config, hadoop, work.toString(), jsonLines),
                    Encoders.javaSerialization(PartitionStats.class)).collectAsList();
        } catch (RuntimeException e) {
            fs.delete(work, true);
            throw e;
        } finally {
            hadoop.destroy();
        }

        long inputRecords = 0;
        Map<String, Long> rejectedByReason = new TreeMap<>();
        List<ShardInfo> shards = new ArrayList<>();
        for (PartitionStats s : stats) {
            inputRecords += s.inputRecords();
            s.rejectedByReason().forEach((k, v) -> rejectedByReason.merge(k, v, Long::sum));
            if (s.shard() != null) {
                shards.add(s.shard());
            }
        }
        shards.sort(Comparator.comparing(ShardInfo::path));
        if (inputRecords == 0) {
            fs.delete(work, true);
            throw new IllegalArgumentException("the input of the prepare step holds no records: " + input.inputFiles().length
                    + " input files (" + String.join(", ", Arrays.asList(input.inputFiles()).subList(0,
                            Math.min(3, input.inputFiles().length))) + ")");
        }
        long rejected = rejectedByReason.values().stream().mapToLong(Long::longValue).sum();
        if (inputRecords > 0 && (double) rejected / inputRecords > config.maxRejectRatio()) {
            // Keep the rejects for inspection, drop the shards: a dataset built from so few records is not published.
            for (ShardInfo s : shards) {
                fs.delete(new Path(work, s.path()), false);
            }
            throw new RejectedRecordsException(rejected, inputRecords, config.maxRejectRatio(), rejectedByReason,
                    new Path(work, "rejected").toString());
        }

        Map<String, Object> described = new LinkedHashMap<>(config.describe());
        if (config.dataType() != DataType.VIDEO_LATENT) {
            describeTokens(config, conf, described);
        }
        Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, fingerprint, config.dataType().key(),
                config.dataType().sampleLayout().key(), config.maxSeqLen(), config.rowsPerBatch(), inputRecords,
                shards.stream().mapToLong(ShardInfo::rows).sum(),
                shards.stream().mapToLong(ShardInfo::documents).sum(),
                shards.stream().mapToLong(ShardInfo::tokens).sum(),
                shards.stream().mapToLong(ShardInfo::images).sum(),
                shards.stream().mapToLong(ShardInfo::videos).sum(),
                shards.stream().mapToLong(ShardInfo::frames).sum(),
                rejected, rejectedByReason, shards,
                Manifest.schemaJson(ShardSchema.of(config.dataType().sampleLayout())), described);
        manifest.write(fs, work);
        publish(fs, work, qualifiedOut);
        // Hand back what a later reader will see, JSON number types included.
        Manifest published = Manifest.read(fs, qualifiedOut).orElseThrow(
                () -> new IOException("the manifest vanished from " + qualifiedOut + " right after publishing"));
        return new PrepareResult(new Path(qualifiedOut, Manifest.FILE_NAME).toString(), published, false);
    }

    /** The tokenizer and the special ids the shards were written with, for a token dataset's manifest. */
    private static void describeTokens(PrepareConfig config, Configuration conf, Map<String, Object> described)
            throws IOException {
        Tokenizer tokenizer = TokenizerLoader.load(config, conf);
        try {
            described.put("tokenizer", tokenizer.getClass().getSimpleName());
            described.put("vocab_size", tokenizer.vocabSize());
            described.put("pad_id", tokenizer.padId());
            described.put("eos_id", tokenizer.eosId());
            if (config.dataType().hasMedia()) {
                described.put("image_token_id", SampleBuilder.imageTokenId(config, tokenizer));
                described.put("video_token_id", SampleBuilder.videoTokenId(config, tokenizer));
                if (config.visionMarkers()) {
                    described.put("vision_start_token_id", SampleBuilder.visionStartTokenId(config, tokenizer));
                    described.put("vision_end_token_id", SampleBuilder.visionEndTokenId(config, tokenizer));
                }
            }
        } finally {
            TokenizerLoader.close(tokenizer);
        }
    }

    /** Replaces {@code out} with {@code work}; the old dataset goes only once the new one is complete. */
    private static void publish(FileSystem fs, Path work, Path out) throws IOException {
        if (fs.exists(out)) {
            FileStatus status = fs.getFileStatus(out);
            if (status.isDirectory()) {
                fs.delete(out, true);
            } else {
                throw new IOException("data.output_path " + out + " is a file, not a directory");
            }
        }
        if (!fs.rename(work, out)) {
            throw new IOException("could not rename " + work + " to " + out);
        }
    }
}
