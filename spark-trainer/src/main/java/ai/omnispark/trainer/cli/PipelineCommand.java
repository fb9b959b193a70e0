package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.pipeline.ScheduledPipeline;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** {@code pipeline CONFIG [--set key=value ...]}: prepare + train + export for schedulers (docs/pipelines.md). */
final class PipelineCommand {
    private PipelineCommand() {}

    static int run(String[] argv, PrintStream out) {
        Args args = Args.parse(argv, 0, List.of());
        if (args.positional.size() != 1) {
            throw new ConfigException("pipeline takes one CONFIG file, got " + args.positional);
        }
        return ScheduledPipeline.run(Path.of(args.positional.get(0)), args.sets, ExportHfCommand.hadoopConf(), out)
                .code();
    }
}
