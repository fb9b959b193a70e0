package ai.omnispark.trainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardSchema;
import ai.omnispark.data.arrow.ShardWriter;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.LocalLauncher;
import ai.omnispark.trainer.testing.TinyModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rows that carry images and video reach the trainer's row source as media samples, byte for byte;
 * a text family pointed at them is refused on the driver before any rank starts, naming the
 * dataset, its layout and the family.
 */
class MediaSamplesTest {
    private static final int ROWS = 6;
    private static final int SEQ_LEN = 8;

    @TempDir
    static Path dir;

    static FileSystem fs;
    static org.apache.hadoop.fs.Path images;

    @BeforeAll
    static void writeImageDataset() throws IOException {
        fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();
        images = new org.apache.hadoop.fs.Path(dir.resolve("images").toUri());
        fs.mkdirs(images);
        ShardInfo shard;
        try (ShardWriter writer = new ShardWriter(fs, new org.apache.hadoop.fs.Path(images, "part-00000.arrow"), true,
                4)) {
            for (int id = 0; id < ROWS; id++) {
                writer.write(new ShardRow(row(id), media(id)));
            }
            shard = writer.finish();
        }
        new Manifest(Manifest.FORMAT_VERSION, "media-test", "image_text", SampleLayout.TOKENS_WITH_MEDIA.key(),
                SEQ_LEN, 4, ROWS, ROWS, 2L * ROWS, (long) ROWS * SEQ_LEN, ROWS, ROWS % 2, 0, 0, Map.of(),
                List.of(shard), Manifest.schemaJson(ShardSchema.of(true)), Map.of()).write(fs, images);
    }

    /** Two documents; the row is recognisable by its first token, {@code 10 * id}. */
    private static PackedRow row(int id) {
        int[] ids = new int[SEQ_LEN];
        int[] labels = new int[SEQ_LEN];
        int[] pos = new int[SEQ_LEN];
        int[] doc = new int[SEQ_LEN];
        for (int t = 0; t < SEQ_LEN; t++) {
            ids[t] = 10 * id + t;
            doc[t] = t < 5 ? 0 : 1;
            pos[t] = t < 5 ? t : t - 5;
            labels[t] = t == 4 || t == SEQ_LEN - 1 ? PackedRow.IGNORE : ids[t] + 1;
        }
        return new PackedRow(ids, labels, pos, doc);
    }

    /** An image of document 0 (2x3 RGB); on every other row a 2-frame video of document 1 (2x1x2 RGB). */
    private static List<Media> media(int id) {
        List<Media> media = new ArrayList<>();
        media.add(new Media(pixels(id, 2 * 3 * 3), 1, 2, 3, 3, 0));
        if (id % 2 == 1) {
            media.add(new Media(pixels(id + 100, 2 * 2 * 3), 2, 1, 2, 3, 1));
        }
        return media;
    }

    private static byte[] pixels(int seed, int n) {
        byte[] px = new byte[n];
        for (int i = 0; i < n; i++) {
            px[i] = (byte) (seed * 37 + i * 11);
        }
        return px;
    }

    @Test
    void shardRowsHandOutMediaSamplesWithTheWrittenBytes() throws IOException {
        try (ShardRows rows = new ShardRows(fs, images, 3, 0, 1)) {
            List<Sample> samples = rows.next(ROWS);
            List<Integer> seen = new ArrayList<>();
            for (Sample s : samples) {
                int id = s.ints(Sample.INPUT_IDS)[0] / 10;
                seen.add(id);
                PackedRow expected = row(id);
                assertEquals(SampleLayout.TOKENS_WITH_MEDIA, s.layout());
                assertArrayEquals(expected.inputIds(), s.ints(Sample.INPUT_IDS));
                assertArrayEquals(expected.labels(), s.ints(Sample.LABELS));
                assertArrayEquals(expected.positionIds(), s.ints(Sample.POSITION_IDS));
                assertArrayEquals(expected.docIds(), s.ints(Sample.DOC_IDS));
                List<Media> written = media(id);
                List<byte[]> pixels = s.blobs(Sample.PIXEL_VALUES);
                int[][] shapes = s.intRows(Sample.MEDIA_SHAPES);
                int[] docs = s.ints(Sample.MEDIA_DOC_IDS);
                assertEquals(written.size(), pixels.size(), "row " + id);
                for (int k = 0; k < written.size(); k++) {
                    Media m = written.get(k);
                    assertArrayEquals(m.pixels(), pixels.get(k), "row " + id + " media " + k);
                    assertArrayEquals(new int[] {m.frames(), m.height(), m.width(), m.channels()}, shapes[k]);
                    assertEquals(m.docIndex(), docs[k]);
                }
            }
            assertEquals(Set.of(0, 1, 2, 3, 4, 5), Set.copyOf(seen), "one epoch is every row once");
            assertEquals(ROWS, seen.size());
        }
    }

    @Test
    void theLayoutComesFromTheManifest() throws IOException {
        assertEquals(SampleLayout.TOKENS_WITH_MEDIA, SampleLayouts.of(fs, images));
        IOException missing = assertThrows(IOException.class,
                () -> SampleLayouts.of(fs, new org.apache.hadoop.fs.Path(images, "nowhere")));
        assertEquals(true, missing.getMessage().contains("has no manifest.json"), missing.getMessage());
    }

    @Test
    void checkNamesTheDatasetItsLayoutAndTheFamily() {
        ConfigException e = assertThrows(ConfigException.class, () -> SampleLayouts.check("gs://b/images",
                SampleLayout.TOKENS_WITH_MEDIA, "llm", Set.of(SampleLayout.TOKENS)));
        assertEquals(true, e.getMessage().startsWith(
                "dataset gs://b/images holds tokens_with_media rows; the llm family takes only [tokens]"),
                e.getMessage());
        SampleLayouts.check("d", SampleLayout.TOKENS, "llm", Set.of(SampleLayout.TOKENS));
        SampleLayouts.check("d", SampleLayout.TOKENS_WITH_MEDIA, "vlm",
                Set.of(SampleLayout.TOKENS, SampleLayout.TOKENS_WITH_MEDIA));
    }

    @Test
    void anLlmRunOnImageShardsFailsBeforeAnyRankStarts() throws IOException {
        Path model = TinyModel.write(dir, false);
        Path out = dir.resolve("run");
        Settings settings = Settings.fromTree(null, List.of("model.config_path=" + model,
                "data.train_path=" + images, "data.max_seq_len=" + SEQ_LEN, "train.output_dir=" + out,
                "train.world_size=2", "train.global_batch_size=2", "train.micro_batch_size=1", "train.max_steps=1",
                "train.threads=1", "train.comm_timeout_s=30"), "test");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ConfigException e = assertThrows(ConfigException.class, () -> LocalLauncher.run(settings, (r, total) -> {},
                new PrintStream(log, true, StandardCharsets.UTF_8), 0));
        assertEquals(true, e.getMessage().startsWith("dataset " + images
                + " holds tokens_with_media rows; the llm family takes only [tokens]"), e.getMessage());
        assertEquals("", log.toString(StandardCharsets.UTF_8), "no rank ran");
        assertFalse(Files.exists(out.resolve("checkpoints")), "no rank ran");
    }
}
