package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import java.io.PrintStream;
import java.util.Arrays;

/** {@code bench train|comm|data|fsdp|parallel|recompute|attention|caption|t2v|i2v ...}: benchmarks that print JSON lines. */
final class BenchCommand {
    private BenchCommand() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        if (argv.length == 0) {
            throw new ConfigException("bench needs a target: train, fsdp, parallel, recompute, data, comm, attention, caption, t2v or i2v");
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        switch (argv[0]) {
            case "train":
                return BenchTrain.run(rest, out, err);
            case "fsdp":
                return BenchFsdp.run(rest, out);
            case "parallel":
                return BenchParallel.run(rest, out);
            case "recompute":
                return BenchRecompute.run(rest, out);
            case "data":
                return benchData(rest, out);
            case "caption":
                return BenchCaption.run(rest, out);
            case "t2v":
                return BenchVideo.run(rest, out, false);
            case "i2v":
                return BenchVideo.run(rest, out, true);
            case "comm":
                ai.omnispark.parallel.comm.CommBench.run(rest, out);
                return 0;
            case "attention":
                try {
                    ai.omnispark.models.nn.attention.AttentionBench.run(rest, out);
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(e.getMessage());
                }
                return 0;
            default:
                throw new ConfigException("unknown bench target '" + argv[0] + "'; targets: train, fsdp, parallel, recompute, data, comm, attention, caption, t2v, i2v");
        }
    }

    /**
     * {@code bench data [--dir DIR] [--samples N] [--reader-mb MB]}: prepare throughput per modality
     * (Spark local mode on the bundled synthetic text, images and videos), then the rank-side reader
     * from local disk.
     */
    private static int benchData(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, java.util.List.of("dir", "samples", "reader-mb"));
        java.nio.file.Path dir = java.nio.file.Path.of(args.option("dir", "runs/bench-data")).toAbsolutePath();
        int samples = Integer.parseInt(args.option("samples", "200"));
        int readerMb = Integer.parseInt(args.option("reader-mb", "1024"));
        org.apache.spark.sql.SparkSession spark = org.apache.spark.sql.SparkSession.builder()
                .appName("omnispark-bench-data").master("local[*]").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "4").getOrCreate();
        try {
            ai.omnispark.data.bench.DataBench.run(spark, dir.resolve("prepare"), samples).forEach(out::println);
        } finally {
            spark.stop();
        }
        org.apache.hadoop.fs.FileSystem fs = org.apache.hadoop.fs.FileSystem.getLocal(
                new org.apache.hadoop.conf.Configuration()).getRawFileSystem();
        out.println(ai.omnispark.data.bench.ReaderBench.run(fs, new org.apache.hadoop.fs.Path(
                dir.resolve("reader").toUri()), readerMb, 4096));
        return 0;
    }
}
