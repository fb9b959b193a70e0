package ai.omnispark.parallel.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.fsdp.FsdpParams;
import ai.omnispark.parallel.fsdp.SilentShardGroup;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saves from N ranks and loads onto M ranks; every slice must come back exactly, or fail cleanly. */
class CheckpointTest {
    private static final List<UnitLayout> UNITS = List.of(
            new UnitLayout("embed", List.of(ParamSpec.of("embed.weight", new Init.Normal(0.02), 7, 5))),
            new UnitLayout("layers.0", List.of(ParamSpec.of("layers.0.w", new Init.Normal(0.02), 5, 5),
                    ParamSpec.of("layers.0.norm", new Init.Constant(1), 5))),
            new UnitLayout("head", List.of(ParamSpec.of("head.norm", new Init.Constant(1), 3))));

    @TempDir
    java.nio.file.Path tmp;

    private NDManager manager;
    private FileSystem fs;
    private Path root;

    @BeforeEach
    void setUp() throws IOException {
        manager = NDManager.newBaseManager();
        fs = FileSystem.getLocal(new Configuration());
        root = new Path(tmp.toUri().toString(), "checkpoints");
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static final class Truth {
        final float[][] weights = new float[UNITS.size()][];
        final float[][] m = new float[UNITS.size()][];
        final float[][] v = new float[UNITS.size()][];

        Truth(long seed) {
            Random r = new Random(seed);
            for (int u = 0; u < UNITS.size(); u++) {
                int n = (int) UNITS.get(u).numel();
                weights[u] = new float[n];
                m[u] = new float[n];
                v[u] = new float[n];
                for (int i = 0; i < n; i++) {
                    weights[u][i] = (float) r.nextGaussian();
                    m[u][i] = (float) r.nextGaussian();
                    v[u][i] = r.nextFloat();
                }
            }
        }
    }

    private ParamStore store(int rank, int world) {
        return world == 1 ? new LocalParams(manager, UNITS, DataType.FLOAT32, 1)
                : new FsdpParams(manager, UNITS, DataType.FLOAT32, 1, new SilentShardGroup(rank, world));
    }

    /** Puts the truth's slices into a rank's store and optimizer. */
    private void install(Truth t, ParamStore store, AdamW adamw, long steps) {
        for (int u = 0; u < UNITS.size(); u++) {
            String name = UNITS.get(u).name();
            OwnedSlice o = store.owned(name);
            store.loadOwnedWeights(name, Arrays.copyOfRange(t.weights[u], (int) o.begin(), (int) o.end()));
            adamw.setState(name, manager.create(padded(t.m[u], o)), manager.create(padded(t.v[u], o)));
        }
        adamw.setStepCount(steps);
    }

    private static float[] padded(float[] full, OwnedSlice o) {
        return Arrays.copyOf(Arrays.copyOfRange(full, (int) o.begin(), (int) o.end()), (int) o.localLength());
    }

    private void assertHolds(Truth t, ParamStore store, AdamW adamw, long steps) {
        assertEquals(steps, adamw.stepCount());
        for (int u = 0; u < UNITS.size(); u++) {
            String name = UNITS.get(u).name();
            OwnedSlice o = store.owned(name);
            assertArrayEquals(Arrays.copyOfRange(t.weights[u], (int) o.begin(), (int) o.end()),
                    store.ownedWeights(name), name);
            assertArrayEquals(padded(t.m[u], o), adamw.state(name)[0].toFloatArray(), name + " exp_avg");
            assertArrayEquals(padded(t.v[u], o), adamw.state(name)[1].toFloatArray(), name + " exp_avg_sq");
        }
    }

    /** What one rank of a job does with its own store, optimizer and checkpointer. */
    private interface RankBody {
        String run(int rank, ParamStore store, AdamW adamw, Checkpointer ckpt) throws Exception;
    }

    /** Runs {@code body} on every rank of a {@code world}-rank job, as threads; returns their outcomes by rank. */
    private List<String> asJob(int world, int keepLast, RankBody body) throws Exception {
        return asJob(world, keepLast, null, body);
    }

    /** As {@link #asJob(int, int, RankBody)}, with checkpointers fenced by {@code attempt}. */
    private List<String> asJob(int world, int keepLast, String attempt, RankBody body) throws Exception {
        ThreadSum sum = new ThreadSum(world);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<String>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    try (ParamStore store = store(rank, world); AdamW adamw = new AdamW(manager, cfg());
                            Checkpointer ckpt = new Checkpointer(fs, root, rank, world, sum.forRank(rank), keepLast)
                                    .fencedBy(attempt)) {
                        return body.run(rank, store, adamw, ckpt);
                    }
                }));
            }
            List<String> outcomes = new ArrayList<>();
            for (Future<String> f : ranks) {
                outcomes.add(f.get(60, TimeUnit.SECONDS));
            }
            return outcomes;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Every rank of a {@code world}-rank job saves the truth at {@code step}. */
    private void saveAsJob(Truth t, int world, long step, boolean async, int keepLast) throws Exception {
        asJob(world, keepLast, (rank, store, adamw, ckpt) -> {
            install(t, store, adamw, step);
            ObjectNode extra = new ObjectMapper().createObjectNode().put("cursor", step * 10);
            ckpt.save(step, RankState.capture(store, adamw), extra, null, UNITS, async);
            ckpt.finish();
            return "saved";
        });
    }

    private static AdamW.Config cfg() {
        return new AdamW.Config(0.9, 0.95, 1e-8, 0.01);
    }

    @Test
    void savedByFourRanksLoadsOntoTwoOneAndThree() throws Exception {
        Truth t = new Truth(3);
        saveAsJob(t, 4, 5, false, 0);
        Path dir = Checkpointer.resolve(fs, root, "auto");
        assertEquals(CheckpointPaths.step(root, 5), dir);
        CheckpointReader reader = new CheckpointReader(fs, dir);
        assertEquals(50, reader.extraState().get("cursor").asLong());
        for (int world : new int[] {2, 1, 3}) {
            for (int rank = 0; rank < world; rank++) {
                try (ParamStore store = store(rank, world); AdamW adamw = new AdamW(manager, cfg())) {
                    reader.read(UNITS, store::owned).applyTo(store, adamw, manager);
                    assertHolds(t, store, adamw, 5);
                }
            }
        }
    }

    @Test
    void asyncSaveCommitsAndKeepsTheNewestK() throws Exception {
        for (long step = 1; step <= 4; step++) {
            saveAsJob(new Truth(step), 2, step, true, 2);
        }
        assertEquals(List.of(3L, 4L), Checkpointer.committedSteps(fs, root));
        Truth last = new Truth(4);
        try (ParamStore store = store(0, 1); AdamW adamw = new AdamW(manager, cfg())) {
            new CheckpointReader(fs, Checkpointer.resolve(fs, root, "auto")).read(UNITS, store::owned)
                    .applyTo(store, adamw, manager);
            assertHolds(last, store, adamw, 4);
        }
    }

    @Test
    void aCrashedSaveLeavesThePreviousCheckpointLoadable() throws Exception {
        Truth first = new Truth(1);
        saveAsJob(first, 2, 1, false, 0);
        // A save of step 2 that died after writing some files: the temp directory is there, uncommitted.
        fs.mkdirs(new Path(CheckpointPaths.tmp(root, 2), CheckpointPaths.MODEL));
        fs.create(new Path(new Path(CheckpointPaths.tmp(root, 2), CheckpointPaths.MODEL), "shard-00000-of-00002.safetensors"))
                .close();
        assertEquals(CheckpointPaths.step(root, 1), Checkpointer.resolve(fs, root, "auto"));
        // Even without the latest file, the newest committed directory is found.
        fs.delete(CheckpointPaths.latest(root), false);
        assertEquals(CheckpointPaths.step(root, 1), Checkpointer.resolve(fs, root, "auto"));
        try (ParamStore store = store(1, 2); AdamW adamw = new AdamW(manager, cfg())) {
            new CheckpointReader(fs, Checkpointer.resolve(fs, root, "auto")).read(UNITS, store::owned)
                    .applyTo(store, adamw, manager);
            assertHolds(first, store, adamw, 1);
        }
        // A rerun saves step 2 over the leftover.
        saveAsJob(new Truth(2), 2, 2, false, 0);
        assertEquals(CheckpointPaths.step(root, 2), Checkpointer.resolve(fs, root, "auto"));
    }

    @Test
    void corruptOrMissingFilesAreNamedAndNothingIsHalfLoaded() throws Exception {
        saveAsJob(new Truth(1), 2, 1, false, 0);
        Path dir = CheckpointPaths.step(root, 1);
        java.nio.file.Path shard1 = java.nio.file.Path.of(new Path(new Path(dir, CheckpointPaths.MODEL),
                CheckpointPaths.shardFile(1, 2)).toUri());
        try (RandomAccessFile f = new RandomAccessFile(shard1.toFile(), "rw")) {
            f.seek(f.length() - 3);
            f.write(0x7f);
        }
        Files.deleteIfExists(shard1.resolveSibling("." + shard1.getFileName() + ".crc"));
        try (ParamStore store = store(0, 1); AdamW adamw = new AdamW(manager, cfg())) {
            float[] before = store.ownedWeights("embed");
            IOException e = assertThrows(IOException.class,
                    () -> new CheckpointReader(fs, dir).read(UNITS, store::owned).applyTo(store, adamw, manager));
            assertTrue(e.getMessage().contains("shard-00001-of-00002.safetensors"), e.getMessage());
            assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
            assertArrayEquals(before, store.ownedWeights("embed"));
            assertNull(adamw.state("embed"));
            Files.delete(shard1);
            IOException missing = assertThrows(IOException.class,
                    () -> new CheckpointReader(fs, dir).read(UNITS, store::owned));
            assertTrue(missing.getMessage().contains("shard-00001-of-00002.safetensors")
                    && missing.getMessage().contains("missing"), missing.getMessage());
        }
        IOException notCkpt = assertThrows(IOException.class,
                () -> Checkpointer.resolve(fs, root, new Path(root, "nowhere").toString()));
        assertTrue(notCkpt.getMessage().contains("nowhere"));
    }

    @Test
    void aFailedAsyncWriteSurfacesOnEveryRank() throws Exception {
        List<String> outcomes = asJob(2, 0, (rank, store, adamw, ckpt) -> {
            HfWriter broken = (f, d) -> {
                throw new IOException("disk full (injected)");
            };
            ckpt.save(3, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), broken, UNITS, true);
            try {
                for (int step = 0; step < 100; step++) {
                    ckpt.poll();
                    Thread.sleep(10);
                }
                ckpt.finish();
                return "no error";
            } catch (IOException e) {
                return e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        });
        for (String outcome : outcomes) {
            assertTrue(outcome.contains("checkpoint step 3 failed"), outcome);
        }
        assertTrue(outcomes.get(0).contains("disk full"));
        // Rank 1 only echoes rank 0's failure, and says so by its type.
        assertTrue(outcomes.get(0).startsWith("IOException: "), outcomes.get(0));
        assertTrue(outcomes.get(1).startsWith("PeerFailedException: "), outcomes.get(1));
        assertFalse(fs.exists(CheckpointPaths.step(root, 3)));
        assertNull(Checkpointer.resolve(fs, root, "auto"));
    }

    /** A save whose writer dies half-way (one rank's files written, the other's not) commits nothing. */
    @Test
    void aWriterDyingMidSaveLeavesTheLastCommittedCheckpoint() throws Exception {
        Truth first = new Truth(1);
        saveAsJob(first, 2, 1, false, 0);
        List<String> outcomes = asJob(2, 0, (rank, store, adamw, ckpt) -> {
            install(new Truth(2), store, adamw, 2);
            // Rank 0 dies after its model and optimizer files, while writing hf_ckpt.
            HfWriter dies = (f, d) -> {
                f.create(new org.apache.hadoop.fs.Path(d, "model.safetensors")).close();
                throw new IOException("writer killed (injected)");
            };
            try {
                ckpt.save(2, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), dies, UNITS,
                        false);
                return "saved";
            } catch (IOException e) {
                return e.getMessage();
            }
        });
        for (String outcome : outcomes) {
            assertTrue(outcome.contains("checkpoint step 2 failed"), outcome);
        }
        assertEquals("1", new String(fs.open(CheckpointPaths.latest(root)).readAllBytes()).trim());
        assertFalse(fs.exists(CheckpointPaths.step(root, 2)));
        try (ParamStore store = store(0, 1); AdamW adamw = new AdamW(manager, cfg())) {
            new CheckpointReader(fs, Checkpointer.resolve(fs, root, "auto")).read(UNITS, store::owned)
                    .applyTo(store, adamw, manager);
            assertHolds(first, store, adamw, 1);
        }
    }

    /**
     * Attempt 1 fails while one of its ranks sleeps; the driver claims the checkpoints for attempt 2,
     * which saves step 3. The straggler then wakes and saves steps 3 and 4 with attempt 1's id: both
     * saves must be refused, leaving {@code latest}, attempt 2's step 3 and the pruning untouched.
     */
    @Test
    void aStragglerOfAnOlderAttemptCannotCommitOrMoveLatest() throws Exception {
        AttemptFence.claim(fs, root, "1-aaaa");
        Truth first = new Truth(2);
        asJob(2, 0, "1-aaaa", (rank, store, adamw, ckpt) -> {
            install(first, store, adamw, 2);
            ckpt.save(2, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), null, UNITS, false);
            return "saved";
        });
        AttemptFence.claim(fs, root, "2-bbbb");
        Truth second = new Truth(3);
        asJob(2, 0, "2-bbbb", (rank, store, adamw, ckpt) -> {
            install(second, store, adamw, 3);
            ckpt.save(3, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), null, UNITS, false);
            return "saved";
        });
        assertEquals("2-bbbb", new ObjectMapper().readTree(fs.open(new Path(CheckpointPaths.step(root, 3),
                "model/index.json"))).get("attempt").asText(), "the commit records its attempt");
        for (long step : new long[] {3, 4}) {
            List<String> outcomes = asJob(2, 1, "1-aaaa", (rank, store, adamw, ckpt) -> {
                install(new Truth(100 + step), store, adamw, step);
                try {
                    ckpt.save(step, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), null,
                            UNITS, false);
                    return "saved";
                } catch (IOException e) {
                    return e.getMessage();
                }
            });
            for (String outcome : outcomes) {
                assertTrue(outcome.contains("checkpoint step " + step), outcome);
            }
            assertTrue(outcomes.get(0).contains("attempt 1-aaaa may no longer") && outcomes.get(0).contains("2-bbbb"),
                    outcomes.get(0));
        }
        assertEquals("3", new String(fs.open(CheckpointPaths.latest(root)).readAllBytes()).trim());
        assertEquals(List.of(2L, 3L), Checkpointer.committedSteps(fs, root), "nothing pruned or added by attempt 1");
        try (ParamStore store = store(0, 1); AdamW adamw = new AdamW(manager, cfg())) {
            new CheckpointReader(fs, CheckpointPaths.step(root, 3)).read(UNITS, store::owned)
                    .applyTo(store, adamw, manager);
            assertHolds(second, store, adamw, 3);
        }
    }

    /** The straggler passed the check at save time and is refused at commit, after it wrote its files. */
    @Test
    void aStragglerClaimedOutDuringItsWriteDoesNotCommit() throws Exception {
        AttemptFence.claim(fs, root, "1-aaaa");
        saveAsJob(new Truth(1), 2, 1, false, 0);
        List<String> outcomes = asJob(2, 0, "1-aaaa", (rank, store, adamw, ckpt) -> {
            install(new Truth(5), store, adamw, 5);
            // The driver relaunches while this attempt writes (rank 0's hf writer runs after its shards).
            HfWriter relaunch = (f, d) -> AttemptFence.claim(fs, root, "2-bbbb");
            try {
                ckpt.save(5, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), relaunch, UNITS,
                        false);
                return "saved";
            } catch (IOException e) {
                return e.getMessage();
            }
        });
        for (String outcome : outcomes) {
            assertTrue(outcome.contains("checkpoint step 5 failed"), outcome);
        }
        assertFalse(fs.exists(CheckpointPaths.step(root, 5)));
        assertEquals("1", new String(fs.open(CheckpointPaths.latest(root)).readAllBytes()).trim());
        // Its files stayed in its own temporary directory, which attempt 2's first commit clears.
        Path leftover = new Path(root, ".tmp_global_step_5.attempt-1-aaaa");
        assertTrue(fs.exists(leftover));
        asJob(2, 0, "2-bbbb", (rank, store, adamw, ckpt) -> {
            install(new Truth(6), store, adamw, 6);
            ckpt.save(6, RankState.capture(store, adamw), new ObjectMapper().createObjectNode(), null, UNITS, false);
            return "saved";
        });
        assertFalse(fs.exists(leftover));
        assertEquals(List.of(1L, 6L), Checkpointer.committedSteps(fs, root));
    }
}
