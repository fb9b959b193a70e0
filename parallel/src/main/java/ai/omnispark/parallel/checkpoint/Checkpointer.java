package ai.omnispark.parallel.checkpoint;

import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.DoubleUnaryOperator;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One rank's side of distributed checkpointing. Every rank writes its own files into
 * {@code .tmp_global_step_N}; once all ranks report success, rank 0 writes the indexes, renames the
 * directory to {@code global_step_N} and only then updates {@code latest_checkpointed_iteration.txt}.
 * A crash at any point leaves the previous checkpoint committed and loadable.
 *
 * <p>A checkpointer {@linkplain #fencedBy fenced} by a launch attempt writes into a temporary
 * directory of its own and commits only while {@link AttemptFence} names its attempt.
 *
 * <p>Ranks agree through {@code sumAll} (a sum over every rank of the job), which every rank calls
 * the same number of times: at the start of a save, and at each {@link #poll} while one is pending.
 */
public final class Checkpointer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The extra-state field naming the optimizer's per-unit state tensors (e.g. exp_avg, exp_avg_sq). */
    static final String OPTIMIZER_STATE_NAMES = "optimizer_state_names";

    private final FileSystem fs;
    private final Path root;
    private final int rank;
    private final int world;
    private final DoubleUnaryOperator sumAll;
    private final int keepLast;
    private final ExecutorService writer;
    private String attemptId;
    private Pending pending;

    /** A save under way: first every rank's write, then (committing) rank 0's commit, both off the training thread. */
    private record Pending(long step, Future<?> write, List<UnitLayout> layouts, boolean committing) {}

    /**
     * @param keepLast how many committed checkpoints to keep (0: all)
     */
    public Checkpointer(FileSystem fs, Path root, int rank, int world, DoubleUnaryOperator sumAll, int keepLast) {
        if (rank < 0 || rank >= world) {
            throw new IllegalArgumentException("rank " + rank + " of " + world);
        }
        this.fs = fs;
        this.root = root;
        this.rank = rank;
        this.world = world;
        this.sumAll = sumAll;
        this.keepLast = keepLast;
        this.writer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "checkpoint-writer-rank-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    public Path root() {
        return root;
    }

    /**
     * Commits only while {@link AttemptFence} under the root names {@code attemptId}, and records the
     * attempt in every index and extra state; null (the default) commits unfenced.
     */
    public Checkpointer fencedBy(String attemptId) {
        this.attemptId = attemptId;
        return this;
    }

    private Path tmpDir(long step) {
        Path tmp = CheckpointPaths.tmp(root, step);
        return attemptId == null ? tmp : new Path(root, tmp.getName() + ".attempt-" + attemptId);
    }

    /**
     * Saves {@code state} as step {@code step}. Waits for the previous save first. With
     * {@code async} the files are written by a background thread and committed at a later
     * {@link #poll}; otherwise this returns once the checkpoint is committed.
     *
     * @param extra this rank's extra state (step, data cursor, ...); the files it wrote are added
     * @param hf rank 0's writer of {@code hf_ckpt/}, or null
     */
    public void save(long step, RankState state, ObjectNode extra, HfWriter hf, List<UnitLayout> layouts,
            boolean async) throws IOException {
        finish();
        Path tmp = tmpDir(step);
        // Rank 0 clears a leftover of a crashed save of this step before anyone writes into it.
        int cleared = 1;
        IOException failure = null;
        if (rank == 0) {
            try {
                AttemptFence.check(fs, root, attemptId, "save checkpoints");
                if (fs.exists(tmp)) {
                    fs.delete(tmp, true);
                }
                fs.mkdirs(tmp);
            } catch (IOException e) {
                failure = e;
                cleared = -2 * world;
            }
        }
        if (sumAll.applyAsDouble(cleared) < 1) {
            String message = "checkpoint step " + step + ": rank 0 could not prepare " + tmp;
            if (failure == null) {
                throw new PeerFailedException(message);
            }
            throw new IOException(message + ": " + failure.getMessage(), failure);
        }
        Future<?> write = writer.submit(() -> {
            writeRank(tmp, step, state, extra, hf);
            return null;
        });
        pending = new Pending(step, write, layouts, false);
        if (!async) {
            finish();
        }
    }

    private void writeRank(Path tmp, long step, RankState state, ObjectNode extra, HfWriter hf) throws IOException {
        String file = CheckpointPaths.shardFile(rank, world);
        ShardFiles.Written model = ShardFiles.write(fs, new Path(new Path(tmp, CheckpointPaths.MODEL), file), state.model());
        ShardFiles.Written opt = ShardFiles.write(fs, new Path(new Path(tmp, CheckpointPaths.OPTIMIZER), file),
                state.optimizer());
        ObjectNode e = extra.deepCopy();
        e.put("step", step);
        e.put("rank", rank);
        e.put("world_size", world);
        e.put("optimizer_steps", state.optimizerSteps());
        state.optimizerStateNames().forEach(e.putArray(OPTIMIZER_STATE_NAMES)::add);
        if (attemptId != null) {
            e.put("attempt", attemptId);
        }
        ObjectNode files = e.putObject("files");
        report(files.putObject(CheckpointPaths.MODEL), model, state.model());
        report(files.putObject(CheckpointPaths.OPTIMIZER), opt, state.optimizer());
        if (hf != null && rank == 0) {
            hf.write(fs, new Path(tmp, CheckpointPaths.HF));
        }
        Path extraFile = new Path(new Path(tmp, CheckpointPaths.EXTRA_STATE), CheckpointPaths.extraStateFile(rank));
        try (OutputStream out = fs.create(extraFile, true)) {
            out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e));
        }
    }

    private static void report(ObjectNode node, ShardFiles.Written w, java.util.Map<String, Slice> slices) {
        node.put("name", w.name());
        node.put("bytes", w.bytes());
        node.put("crc32", w.crc32());
        ObjectNode s = node.putObject("slices");
        slices.forEach((k, v) -> s.putArray(k).add(v.begin()).add(v.end()).add(v.total()));
    }

    /**
     * Call once per step on every rank: rethrows a failed background save, and commits a finished one
     * once every rank has finished writing.
     */
    public void poll() throws IOException {
        if (pending != null) {
            agree(false);
        }
    }

    /** Waits for a pending save and commits it. */
    public void finish() throws IOException {
        while (pending != null) {
            agree(true);
        }
    }

    private void agree(boolean wait) throws IOException {
        Pending p = pending;
        double mine;
        Throwable failure = null;
        if (wait || p.write().isDone()) {
            try {
                p.write().get();
                mine = 1;
            } catch (ExecutionException e) {
                failure = e.getCause();
                mine = -2.0 * world;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = e;
                mine = -2.0 * world;
            }
        } else {
            mine = 0;
        }
        double all = sumAll.applyAsDouble(mine);
        if (all < 0) {
            pending = null;
            if (failure == null) {
                throw new PeerFailedException("checkpoint step " + p.step() + " failed on another rank");
            }
            throw new IOException("checkpoint step " + p.step() + " failed on rank " + rank + ": " + failure, failure);
        }
        if (all < world) {
            return;
        }
        if (p.committing()) {
            pending = null;
            return;
        }
        // Every rank has written: rank 0 commits in the background; the next polls agree on its outcome.
        Future<?> commit = rank == 0
                ? writer.submit(() -> {
                    commit(p.step(), p.layouts());
                    return null;
                })
                : java.util.concurrent.CompletableFuture.completedFuture(null);
        pending = new Pending(p.step(), commit, p.layouts(), true);
    }

    private void commit(long step, List<UnitLayout> layouts) throws IOException {
        Path tmp = tmpDir(step);
        List<JsonNode> extras = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            Path f = new Path(new Path(tmp, CheckpointPaths.EXTRA_STATE), CheckpointPaths.extraStateFile(r));
            try (InputStream in = fs.open(f)) {
                extras.add(JSON.readTree(in));
            }
        }
        for (String kind : List.of(CheckpointPaths.MODEL, CheckpointPaths.OPTIMIZER)) {
            List<JsonNode> reports = new ArrayList<>();
            for (JsonNode e : extras) {
                reports.add(e.path("files").path(kind));
            }
            ObjectNode index = CheckpointIndex.build(kind, step, reports, layouts);
            if (attemptId != null) {
                index.put("attempt", attemptId);
            }
            try (OutputStream out = fs.create(new Path(new Path(tmp, kind), CheckpointPaths.INDEX), true)) {
                out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index));
            }
        }
        Path target = CheckpointPaths.step(root, step);
        AttemptFence.check(fs, root, attemptId, "commit " + target);
        if (fs.exists(target)) {
            // A complete but uncommitted save of this step (crash before the latest file moved): replace it.
            fs.delete(target, true);
        }
        if (!fs.rename(tmp, target)) {
            throw new IOException("could not rename " + tmp + " to " + target);
        }
        AttemptFence.check(fs, root, attemptId, "move " + CheckpointPaths.LATEST + " to step " + step);
        writeLatest(step);
        prune();
    }

    private void writeLatest(long step) throws IOException {
        Path latest = CheckpointPaths.latest(root);
        Path tmp = new Path(root, "." + CheckpointPaths.LATEST + ".tmp");
        try (OutputStream out = fs.create(tmp, true)) {
            out.write(String.valueOf(step).getBytes(StandardCharsets.UTF_8));
        }
        // Not every FileSystem renames over an existing file; a reader that finds no latest file falls
        // back to the newest committed directory (see resolve), so the short gap loses nothing.
        fs.delete(latest, false);
        if (!fs.rename(tmp, latest)) {
            throw new IOException("could not rename " + tmp + " to " + latest);
        }
    }

    private void prune() throws IOException {
        if (attemptId != null) {
            // Temporary directories of earlier attempts: no commit can use them any more (the fence).
            for (FileStatus s : fs.listStatus(root)) {
                String name = s.getPath().getName();
                if (s.isDirectory() && name.startsWith(CheckpointPaths.TMP_PREFIX) && name.contains(".attempt-")
                        && !name.endsWith(".attempt-" + attemptId)) {
                    fs.delete(s.getPath(), true);
                }
            }
        }
        if (keepLast <= 0) {
            return;
        }
        List<Long> steps = committedSteps(fs, root);
        for (int i = 0; i < steps.size() - keepLast; i++) {
            fs.delete(CheckpointPaths.step(root, steps.get(i)), true);
        }
    }

    /** Committed steps under {@code root}, ascending. */
    public static List<Long> committedSteps(FileSystem fs, Path root) throws IOException {
        List<Long> steps = new ArrayList<>();
        if (!fs.exists(root)) {
            return steps;
        }
        for (FileStatus s : fs.listStatus(root)) {
            long step = CheckpointPaths.stepOf(s.getPath().getName());
            if (s.isDirectory() && step >= 0) {
                steps.add(step);
            }
        }
        steps.sort(Long::compare);
        return steps;
    }

    /**
     * The checkpoint to resume from: {@code auto} is the latest under {@code root} (null when there
     * is none); anything else is a {@code global_step_N} path that must exist.
     */
    public static Path resolve(FileSystem fs, Path root, String spec) throws IOException {
        if (!spec.equals("auto")) {
            Path p = new Path(spec);
            if (!fs.exists(new Path(new Path(p, CheckpointPaths.MODEL), CheckpointPaths.INDEX))) {
                throw new IOException("load_checkpoint_path " + spec + " is not a committed checkpoint (no "
                        + CheckpointPaths.MODEL + "/" + CheckpointPaths.INDEX + ")");
            }
            return p;
        }
        Path latest = CheckpointPaths.latest(root);
        if (fs.exists(latest)) {
            String text;
            try (InputStream in = fs.open(latest)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            }
            try {
                return CheckpointPaths.step(root, Long.parseLong(text));
            } catch (NumberFormatException e) {
                throw new IOException(latest + " holds '" + text + "', not a step number");
            }
        }
        List<Long> steps = committedSteps(fs, root);
        return steps.isEmpty() ? null : CheckpointPaths.step(root, steps.get(steps.size() - 1));
    }

    /**
     * Like {@link #resolve}, but only a checkpoint that {@linkplain CheckpointVerifier verifies}: with
     * {@code auto}, the latest one first, then every older committed step, newest first, telling
     * {@code skipped} which it passed over and why; null when there is none. An explicit path that
     * does not verify is an error naming the damaged file.
     */
    public static Path resolveVerified(FileSystem fs, Path root, String spec, java.util.function.Consumer<String> skipped)
            throws IOException {
        if (!spec.equals("auto")) {
            Path p = resolve(fs, root, spec);
            CheckpointVerifier.verify(fs, p);
            return p;
        }
        List<Path> candidates = new ArrayList<>();
        Path latest = resolve(fs, root, spec);
        if (latest != null) {
            candidates.add(latest);
        }
        List<Long> steps = committedSteps(fs, root);
        for (int i = steps.size() - 1; i >= 0; i--) {
            Path p = CheckpointPaths.step(root, steps.get(i));
            if (!candidates.contains(p)) {
                candidates.add(p);
            }
        }
        List<String> problems = new ArrayList<>();
        for (Path p : candidates) {
            String problem = fs.exists(p) ? CheckpointVerifier.problem(fs, p) : p + " does not exist";
            if (problem == null) {
                return p;
            }
            problems.add(problem);
            skipped.accept("skipping " + p + ": " + problem);
        }
        if (!problems.isEmpty()) {
            throw new IOException("no checkpoint under " + root + " verifies: " + String.join("; ", problems));
        }
        return null;
    }

    /**
     * A save this rank gave up because another rank's part of it failed: that rank reports the
     * cause, so a launcher reports this one as an echo, not as the failure.
     */
    public static final class PeerFailedException extends IOException {
        private static final long serialVersionUID = 1L;

        PeerFailedException(String message) {
            super(message);
        }
    }

    /** Lets a write still under way (of a save that failed elsewhere) finish, so no file is written after close. */
    @Override
    public void close() {
        writer.shutdown();
        try {
            if (!writer.awaitTermination(10, java.util.concurrent.TimeUnit.MINUTES)) {
                writer.shutdownNow();
            }
        } catch (InterruptedException e) {
            writer.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
