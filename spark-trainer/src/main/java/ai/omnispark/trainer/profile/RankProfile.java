package ai.omnispark.trainer.profile;

import ai.omnispark.parallel.profile.Profiler;
import ai.omnispark.trainer.config.TrainSection;
import java.io.IOException;
import java.io.OutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One rank's side of {@code train.enable_profiling}: starts its profiler before the first step of
 * the window, stops it after the last (or when the run ends inside it) and writes
 * {@code OUTPUT_DIR/profile/rank-R.json}, which the driver merges ({@link ProfileFiles}).
 * Called from the rank's own thread, whose libtorch ops it traces.
 */
public final class RankProfile {
    private final ProfileWindow window;
    private final Profiler profiler;
    private final FileSystem fs;
    private final Path file;

    public RankProfile(TrainSection train, Profiler profiler, FileSystem fs, Path outputDir) {
        this.window = ProfileWindow.from(train);
        this.profiler = profiler;
        this.fs = fs;
        this.file = ProfileFiles.rankFile(outputDir, profiler.rank());
    }

    /** Before a step: starts recording when the step is in the window. */
    public void beforeStep(long completedSteps) {
        if (window.records(completedSteps) && !profiler.recording()) {
            profiler.start();
        }
    }

    /** After a step: stops and writes once the window is over. */
    public void afterStep(long completedSteps) throws IOException {
        if (profiler.recording() && !window.records(completedSteps)) {
            finish();
        }
    }

    /** At the end of the run: writes a window the run ended inside. */
    public void finish() throws IOException {
        if (!profiler.recording()) {
            return;
        }
        profiler.stop();
        try (OutputStream out = fs.create(file, true)) {
            profiler.writeTo(out);
        }
    }
}
