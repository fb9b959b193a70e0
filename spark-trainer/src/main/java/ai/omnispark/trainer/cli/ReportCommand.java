package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.report.RunReport;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** {@code report RUN_DIR}: writes {@code RUN_DIR/report.html}, a self-contained page of the run. */
final class ReportCommand {
    private ReportCommand() {}

    static int run(String[] argv, PrintStream out) throws IOException {
        Args args = Args.parse(argv, 0, List.of());
        if (args.positional.size() != 1) {
            throw new ConfigException("report takes one RUN_DIR (a train.output_dir), got " + args.positional);
        }
        Path dir = new Path(args.positional.get(0));
        FileSystem fs = dir.getFileSystem(ExportHfCommand.hadoopConf());
        RunReport report = RunReport.read(fs, dir);
        Path file = report.write(fs);
        out.println(new ObjectMapper().writeValueAsString(Map.of("report", file.toString())));
        return 0;
    }
}
