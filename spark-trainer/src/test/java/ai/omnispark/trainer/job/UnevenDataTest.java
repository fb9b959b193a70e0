package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardSchema;
import ai.omnispark.data.arrow.ShardWriter;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A prepared dataset of 31 rows: the epoch plan gives 2 ranks 15 and 16 rows, 3 ranks 10, 10 and
 * 11. Every rank must run the steps the fewest rows allow and roll over to the next epoch at the
 * same step. The expected steps and data cursors are worked out by hand in each test.
 */
class UnevenDataTest {
    private static final int ROWS = 31;
    private static final int SEQ_LEN = 16;

    @TempDir
    static Path dir;

    static Path modelConfig;
    static Path dataset;

    @BeforeAll
    static void writeData() throws IOException {
        modelConfig = TinyModel.write(dir, false);
        dataset = dir.resolve("data31");
        writeDataset(dataset, ROWS, 4);
    }

    /** Rows of one document each, token ids below the tiny model's vocabulary, in record batches of {@code perBatch}. */
    private static void writeDataset(Path to, int rows, int perBatch) throws IOException {
        FileSystem fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();
        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(to.toUri());
        fs.mkdirs(root);
        ShardInfo shard;
        long tokens = 0;
        try (ShardWriter writer = new ShardWriter(fs, new org.apache.hadoop.fs.Path(root, "part-00000.arrow"), false,
                perBatch)) {
            for (int id = 0; id < rows; id++) {
                int[] ids = new int[SEQ_LEN];
                int[] labels = new int[SEQ_LEN];
                int[] pos = new int[SEQ_LEN];
                int[] doc = new int[SEQ_LEN];
                for (int t = 0; t < SEQ_LEN; t++) {
                    ids[t] = (id * 7 + t * 3) % 250;
                    labels[t] = t + 1 < SEQ_LEN ? (id * 7 + (t + 1) * 3) % 250 : PackedRow.IGNORE;
                    pos[t] = t;
                }
                tokens += SEQ_LEN;
                writer.write(new ShardRow(new PackedRow(ids, labels, pos, doc), List.of()));
            }
            shard = writer.finish();
        }
        new Manifest(Manifest.FORMAT_VERSION, "uneven-test", "plaintext", SEQ_LEN, perBatch, rows, rows, rows, tokens,
                0, 0, 0, 0, Map.of(), List.of(shard), Manifest.schemaJson(ShardSchema.of(false)), Map.of())
                .write(fs, root);
    }

    private record Run(Map<Long, Double> losses, List<Long> totals, String log) {}

    private static Run train(String out, String... sets) throws Exception {
        List<String> all = new ArrayList<>(List.of("model.config_path=" + modelConfig, "data.train_path=" + dataset,
                "data.max_seq_len=" + SEQ_LEN, "train.output_dir=" + dir.resolve(out), "train.micro_batch_size=1",
                "train.lr=1e-3", "train.threads=1", "train.comm_timeout_s=30", "train.save_hf_weights=false",
                "train.lr_decay_style=cosine", "train.lr_warmup_ratio=0.2"));
        all.addAll(List.of(sets));
        Map<Long, Double> losses = new ConcurrentHashMap<>();
        List<Long> totals = java.util.Collections.synchronizedList(new ArrayList<>());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        LocalLauncher.run(Settings.fromTree(null, all, "test"), (r, total) -> {
            losses.put(r.step(), r.loss());
            totals.add(total);
        }, new PrintStream(log, true, StandardCharsets.UTF_8), 0);
        return new Run(new TreeMap<>(losses), totals, log.toString(StandardCharsets.UTF_8));
    }

    /** Every rank's data cursor in the final checkpoint: {epoch, position within the epoch}. */
    private static List<long[]> cursors(String out, long step, int world) throws IOException {
        List<long[]> cursors = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            Path extra = dir.resolve(out + "/checkpoints/global_step_" + step + "/extra_state/extra_state_rank_" + r
                    + ".json");
            JsonNode cursor = new ObjectMapper().readTree(extra.toFile()).path("data_cursor");
            cursors.add(new long[] {cursor.path("epoch").asLong(), cursor.path("rank_position").asLong()});
        }
        return cursors;
    }

    private static void assertRun(Run run, long steps, String dropLine) {
        assertEquals(steps, run.losses().size(), "steps rank 0 reported: " + run.losses().keySet());
        assertEquals(steps, run.losses().keySet().stream().mapToLong(Long::longValue).max().orElse(0));
        assertTrue(run.totals().stream().allMatch(t -> t == steps), "planned totals " + run.totals());
        assertTrue(run.log().contains(dropLine), run.log());
    }

    private static void assertCursors(List<long[]> cursors, long epoch, long position) {
        for (int r = 0; r < cursors.size(); r++) {
            assertEquals(epoch, cursors.get(r)[0], "rank " + r + " epoch");
            assertEquals(position, cursors.get(r)[1], "rank " + r + " position");
        }
    }

    @Test
    void twoRanksAgreeOnTheFewerSteps() throws Exception {
        // 15 and 16 rows, 4 a step: 3 whole steps (12 rows) an epoch on both; 2 epochs = 6 steps; then both
        // at epoch 2, row 0.
        Run run = train("two", "train.world_size=2", "train.global_batch_size=8", "train.num_train_epochs=2");
        assertRun(run, 6, "data ranks hold 15 to 16 packed rows per epoch: every rank trains on its first 12");
        assertCursors(cursors("two", 6, 2), 2, 0);
    }

    @Test
    void twoRanksWithMaxStepsRollOverTogether() throws Exception {
        // 12 rows an epoch on both: 7 steps x 4 rows = 28 = 2 x 12 + 4, so epoch 2, row 4; without agreement
        // the ranks would stand at epoch 1, row 13 (15 rows an epoch) and row 12 (16).
        Run run = train("two-max", "train.world_size=2", "train.global_batch_size=8", "train.max_steps=7");
        assertCursors(cursors("two-max", 7, 2), 2, 4);
        assertRun(run, 7, "data ranks hold 15 to 16 packed rows per epoch: every rank trains on its first 12");
    }

    @Test
    void threeRanksAgreeOnTheFewerSteps() throws Exception {
        // 10, 10 and 11 rows, 1 a step: 10 steps; the third rank's 11th row is dropped.
        Run run = train("three", "train.world_size=3", "train.global_batch_size=3");
        assertRun(run, 10, "data ranks hold 10 to 11 packed rows per epoch: every rank trains on its first 10");
        assertCursors(cursors("three", 10, 3), 1, 0);
    }

    @Test
    void threeRanksWithMaxStepsRollOverTogether() throws Exception {
        // 12 steps of 1 row over 10-row epochs: epoch 1, row 2 on every rank (the 11-row rank would be at row 1).
        Run run = train("three-max", "train.world_size=3", "train.global_batch_size=3", "train.max_steps=12");
        assertCursors(cursors("three-max", 12, 3), 1, 2);
        assertRun(run, 12, "data ranks hold 10 to 11 packed rows per epoch: every rank trains on its first 10");
    }
}
