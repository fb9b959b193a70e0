package ai.omnispark.data.bench;

import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.pipeline.DataType;
import ai.omnispark.data.pipeline.PrepareConfig;
import ai.omnispark.data.pipeline.PrepareResult;
import ai.omnispark.data.pipeline.PreparePipeline;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * Prepare throughput per modality on the synthetic sample: one JSON line each,
 * {@code {"modality":...,"samples_per_s":...,"MBps":...}}, where MB/s counts input bytes (JSON
 * lines plus the media files they name). The sample is generated first and not timed; it holds
 * {@code count} images and videos and 100 × {@code count} text documents.
 */
public final class DataBench {
    private DataBench() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "runs/bench-data");
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        SparkSession spark = SparkSession.builder().appName("omnispark-bench-data").master("local[*]")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
        try {
            run(spark, dir, count).forEach(System.out::println);
        } finally {
            spark.stop();
        }
    }

    public static List<String> run(SparkSession spark, Path dir, int count) throws IOException {
        Path sample = dir.resolve("sample");
        if (!Files.exists(sample.resolve("video_text.jsonl"))) {
            SyntheticSample.write(sample, count, 1);
            // Text is cheap per record; more of it keeps Spark's fixed cost per job out of the rate.
            List<String> text = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (String doc : SyntheticText.documents(2, count * 100)) {
                text.add(json.writeValueAsString(java.util.Map.of("text", doc)));
            }
            Files.write(sample.resolve("text.jsonl"), text);
        }
        // A first job pays for JIT and Spark start-up; it is not reported.
        PreparePipeline.run(spark, PrepareConfig.builder().inputPath(sample.resolve("image_text.jsonl").toString())
                .dataType(DataType.IMAGE_TEXT).maxSeqLen(1024).outputPath(dir.resolve("warm-up-" + System.nanoTime())
                        .toString()).build());
        MediaOptions media = new MediaOptions(14, 2, 28 * 28, 112 * 112, SyntheticSample.VIDEO_FPS, 8, 2);
        List<String> lines = new ArrayList<>();
        for (DataType type : List.of(DataType.PLAINTEXT, DataType.IMAGE_TEXT, DataType.VIDEO_TEXT)) {
            String file = switch (type) {
                case IMAGE_TEXT -> "image_text.jsonl";
                case VIDEO_TEXT -> "video_text.jsonl";
                default -> "text.jsonl";
            };
            String mediaDir = type == DataType.IMAGE_TEXT ? "images" : type == DataType.VIDEO_TEXT ? "videos" : null;
            long bytes = Files.size(sample.resolve(file)) + (mediaDir == null ? 0 : size(sample.resolve(mediaDir)));
            Path out = dir.resolve("prepared-" + type.key() + "-" + System.nanoTime());
            PrepareConfig config = PrepareConfig.builder().inputPath(sample.resolve(file).toString()).dataType(type)
                    .media(media).maxSeqLen(1024).rowsPerBatch(64).numShards(4).outputPath(out.toString()).build();
            long start = System.nanoTime();
            PrepareResult result = PreparePipeline.run(spark, config);
            double seconds = (System.nanoTime() - start) / 1e9;
            lines.add(String.format(Locale.ROOT,
                    "{\"modality\":\"%s\",\"samples_per_s\":%.1f,\"MBps\":%.2f,\"samples\":%d,\"rows\":%d,\"seconds\":%.2f}",
                    type.key(), result.manifest().inputRecords() / seconds, bytes / seconds / 1e6,
                    result.manifest().inputRecords(), result.rows(), seconds));
        }
        return lines;
    }

    private static long size(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
