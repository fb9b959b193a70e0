package ai.omnispark.parallel.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Fences checkpoint commits by launch attempt. Before it launches an attempt, the driver writes the
 * attempt's id to {@code ROOT/current_attempt.txt}; a commit re-reads the file right before each
 * step that changes what a resume sees (renaming {@code .tmp_*} into {@code global_step_N}, moving
 * {@code latest_checkpointed_iteration.txt}, pruning) and refuses when it names another attempt. A
 * straggling rank of a failed attempt, still running after the driver relaunched, can therefore
 * write only into its own temporary directory, which no resume reads.
 *
 * <p>No file system the trainer supports offers compare-and-swap, so a check and the rename after it
 * are two operations: a straggler that passes the check and then stalls for longer than it takes the
 * driver to write a new marker could still rename once. The driver closes that window from its side:
 * it relaunches only after every task of the failed attempt has ended (see OmniTrainer), so the fence
 * guards against tasks Spark believes gone (a lost executor's zombie) rather than ordinary ones.
 */
public final class AttemptFence {
    public static final String FILE = "current_attempt.txt";

    private AttemptFence() {}

    /** Makes {@code attemptId} the only attempt allowed to commit under {@code root}. */
    public static void claim(FileSystem fs, Path root, String attemptId) throws IOException {
        fs.mkdirs(root);
        Path marker = new Path(root, FILE);
        Path tmp = new Path(root, "." + FILE + "." + attemptId + ".tmp");
        try (OutputStream out = fs.create(tmp, true)) {
            out.write(attemptId.getBytes(StandardCharsets.UTF_8));
        }
        // Not every FileSystem renames over an existing file; a commit that finds no marker refuses.
        fs.delete(marker, false);
        if (!fs.rename(tmp, marker)) {
            throw new IOException("could not rename " + tmp + " to " + marker);
        }
    }

    /** The attempt allowed to commit, or null when no launcher fenced {@code root}. */
    public static String current(FileSystem fs, Path root) throws IOException {
        Path marker = new Path(root, FILE);
        if (!fs.exists(marker)) {
            return null;
        }
        try (InputStream in = fs.open(marker)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
    }

    /**
     * Throws unless {@code attemptId} is still the current attempt under {@code root}; an unfenced
     * writer ({@code attemptId} null) always passes.
     */
    static void check(FileSystem fs, Path root, String attemptId, String what) throws IOException {
        if (attemptId == null) {
            return;
        }
        String current = current(fs, root);
        if (!attemptId.equals(current)) {
            throw new StaleAttemptException("attempt " + attemptId + " may no longer " + what + ": "
                    + new Path(root, FILE) + (current == null ? " is missing" : " names attempt " + current));
        }
    }

    /** A commit refused because a newer attempt has been launched. */
    public static final class StaleAttemptException extends IOException {
        private static final long serialVersionUID = 1L;

        StaleAttemptException(String message) {
            super(message);
        }
    }
}
