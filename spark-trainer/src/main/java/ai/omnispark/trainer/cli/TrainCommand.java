package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.TrainSummary;
import ai.omnispark.trainer.spark.TrainingJob;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code train CONFIG [--set key=value ...]}; {@code train.parallel_plan: auto} is planned here first. */
final class TrainCommand {
    private TrainCommand() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
        Args args = Args.parse(argv, 0, List.of());
        if (args.positional.size() != 1) {
            throw new ConfigException("train takes one CONFIG file, got " + args.positional);
        }
        Settings settings = PlanCommand.resolveAuto(Settings.load(Path.of(args.positional.get(0)), args.sets), out);
        TrainSummary summary = TrainingJob.run(settings, out);
        out.println(summary.toJsonLine());
        return 0;
    }
}
