package ai.omnispark.trainer.cli;

import ai.omnispark.data.pipeline.PrepareResult;
import ai.omnispark.data.pipeline.RejectedRecordsException;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.DataPreparation;
import ai.omnispark.trainer.pipeline.ExitCode;
import ai.omnispark.trainer.spark.TrainingJob;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/**
 * {@code prepare CONFIG [--set key=value ...]}: only the prepare step of {@code data.train_path}
 * into {@code data.output_path}; the last line is the manifest's summary as one JSON object.
 */
final class PrepareCommand {
    private PrepareCommand() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args args = Args.parse(argv, 0, List.of());
        if (args.positional.size() != 1) {
            throw new ConfigException("prepare takes one CONFIG file, got " + args.positional);
        }
        Settings settings = Settings.load(Path.of(args.positional.get(0)), args.sets);
        DataPreparation.config(settings); // a bad data.* value fails here, before Spark starts
        SparkSession spark = TrainingJob.session(settings);
        try {
            PrepareResult result = DataPreparation.prepare(spark, settings, out);
            out.println(result.summaryLine());
            return ExitCode.SUCCESS.code();
        } catch (RejectedRecordsException e) {
            err.println("omnispark: data rejected: " + e.getMessage());
            return ExitCode.DATA_REJECTED.code();
        } finally {
            if (System.getProperty("spark.master") == null) {
                spark.stop();
            }
        }
    }
}
