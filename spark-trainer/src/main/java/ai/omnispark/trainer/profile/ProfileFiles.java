package ai.omnispark.trainer.profile;

import ai.omnispark.parallel.profile.ChromeTrace;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.config.TrainSection;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The driver's side of {@code train.enable_profiling}: {@code OUTPUT_DIR/profile} holds a trace per
 * rank ({@code rank-R.json}) and their merge, {@code trace.json}, one process per rank.
 */
public final class ProfileFiles {
    public static final String DIR = "profile";
    public static final String MERGED = "trace.json";

    private ProfileFiles() {}

    static Path rankFile(Path outputDir, int rank) {
        return new Path(new Path(outputDir, DIR), "rank-" + rank + ".json");
    }

    /**
     * Before a run: checks the profile keys and removes the traces of an earlier run in the same
     * output directory, so that the merge sees this run's only.
     */
    public static void prepare(Settings settings, Configuration hadoop) throws IOException {
        TrainSection train = JobConfig.from(settings).train();
        if (!ProfileWindow.from(train).enabled()) {
            return;
        }
        Path dir = new Path(new Path(train.outputDir()), DIR);
        FileSystem fs = dir.getFileSystem(hadoop);
        if (fs.exists(dir)) {
            fs.delete(dir, true);
        }
    }

    /**
     * After a run: merges the ranks' traces into {@code trace.json}; returns its path, or null when
     * profiling is off, no rank recorded (the run ended before the window, or resumed after it) or
     * the merge failed (printed to {@code out}: a successful run is not failed for its profile).
     */
    public static Path merge(Settings settings, Configuration hadoop, int world, PrintStream out) {
        TrainSection train = JobConfig.from(settings).train();
        ProfileWindow window = ProfileWindow.from(train);
        if (!window.enabled()) {
            return null;
        }
        try {
            return mergeRanks(window, new Path(train.outputDir()), hadoop, world, out);
        } catch (IOException | RuntimeException e) {
            // the training itself succeeded: say why there is no profile rather than fail the run
            out.println("profile: could not merge the rank traces: " + e);
            return null;
        }
    }

    private static Path mergeRanks(ProfileWindow window, Path outputDir, Configuration hadoop, int world,
            PrintStream out) throws IOException {
        FileSystem fs = outputDir.getFileSystem(hadoop);
        List<ChromeTrace.Input> inputs = new ArrayList<>();
        List<Integer> missing = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            Path p = fs.makeQualified(rankFile(outputDir, r));
            if (!fs.exists(p)) {
                missing.add(r);
                continue;
            }
            inputs.add(new ChromeTrace.Input() {
                @Override
                public InputStream open() throws IOException {
                    return fs.open(p);
                }

                @Override
                public String describe() {
                    return p.toString();
                }
            });
        }
        if (inputs.isEmpty()) {
            out.println("profile: nothing recorded: this run did not run " + window
                    + " (it ended before, or resumed after)");
            return null;
        }
        Path merged = fs.makeQualified(new Path(new Path(outputDir, DIR), MERGED));
        long events;
        try (OutputStream o = fs.create(merged, true)) {
            events = ChromeTrace.merge(inputs, o);
        }
        out.println("profile: " + merged + " (" + window + ", " + inputs.size() + (inputs.size() == 1 ? " rank, " : " ranks, ") + events
                + " events" + (missing.isEmpty() ? "" : "; no trace from ranks " + missing)
                + "); open it in ui.perfetto.dev");
        return merged;
    }
}
