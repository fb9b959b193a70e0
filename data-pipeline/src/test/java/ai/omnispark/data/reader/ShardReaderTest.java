package ai.omnispark.data.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.omnispark.data.arrow.TestDatasets;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardReaderTest {
    private static final int TOTAL = 10 + 7 + 13 + 1;

    @TempDir
    static java.nio.file.Path tmp;
    static FileSystem fs;
    static Path dataset;

    @BeforeAll
    static void writeDataset() throws IOException {
        fs = TestDatasets.localFs();
        dataset = new Path(tmp.toUri());
        TestDatasets.write(fs, dataset, new int[] {10, 7, 13, 1}, 4, false);
    }

    private static List<Integer> read(ReaderOptions options, Cursor start, int count) throws IOException {
        try (ShardReader reader = ShardReader.open(fs, dataset, options, start)) {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ids.add(reader.next().ints(Sample.INPUT_IDS)[0] / 1000);
            }
            return ids;
        }
    }

    @Test
    void ranksTogetherSeeEveryRowOncePerEpoch() throws IOException {
        for (int dpSize : new int[] {1, 2, 3, 4}) {
            for (long epoch = 0; epoch < 2; epoch++) {
                List<Integer> all = new ArrayList<>();
                long minRows = Long.MAX_VALUE;
                long maxRows = 0;
                for (int rank = 0; rank < dpSize; rank++) {
                    ReaderOptions options = ReaderOptions.of(rank, dpSize, 42);
                    long rows;
                    try (ShardReader reader = ShardReader.open(fs, dataset, options, Cursor.START)) {
                        rows = reader.rowsPerEpoch();
                    }
                    minRows = Math.min(minRows, rows);
                    maxRows = Math.max(maxRows, rows);
                    all.addAll(read(options, new Cursor(epoch, 0), (int) rows));
                }
                Set<Integer> distinct = new TreeSet<>(all);
                assertEquals(TOTAL, all.size(), "dpSize " + dpSize + ": row count over all ranks");
                assertEquals(TOTAL, distinct.size(), "dpSize " + dpSize + ": no row twice");
                assertEquals(1, ((TreeSet<Integer>) distinct).first());
                assertEquals(TOTAL, ((TreeSet<Integer>) distinct).last());
                assertEquals(true, maxRows - minRows <= 1, "dpSize " + dpSize + ": " + minRows + ".." + maxRows);
            }
        }
    }

    @Test
    void epochsHaveDifferentOrdersAndSeedsAreReproducible() throws IOException {
        ReaderOptions options = ReaderOptions.of(0, 1, 7);
        List<Integer> twoEpochs = read(options, Cursor.START, 2 * TOTAL);
        List<Integer> e0 = twoEpochs.subList(0, TOTAL);
        List<Integer> e1 = twoEpochs.subList(TOTAL, 2 * TOTAL);
        assertEquals(new TreeSet<>(e0), new TreeSet<>(e1));
        assertNotEquals(e0, e1, "each epoch is reshuffled");
        assertEquals(twoEpochs, read(options, Cursor.START, 2 * TOTAL), "same seed, same order");
        assertNotEquals(e0, read(ReaderOptions.of(0, 1, 8), Cursor.START, TOTAL), "another seed, another order");
    }

    @Test
    void resumingFromACursorContinuesExactly() throws Exception {
        ReaderOptions options = ReaderOptions.of(1, 2, 3).withPrefetchRows(2);
        long perEpoch;
        try (ShardReader reader = ShardReader.open(fs, dataset, options, Cursor.START)) {
            perEpoch = reader.rowsPerEpoch();
        }
        int total = (int) (3 * perEpoch);
        List<Integer> reference = read(options, Cursor.START, total);
        for (int stop : new int[] {0, 1, 5, (int) perEpoch - 1, (int) perEpoch, (int) perEpoch + 3}) {
            Cursor cursor;
            List<Integer> before = new ArrayList<>();
            try (ShardReader reader = ShardReader.open(fs, dataset, options, Cursor.START)) {
                for (int i = 0; i < stop; i++) {
                    before.add(reader.next().ints(Sample.INPUT_IDS)[0] / 1000);
                }
                cursor = roundTrip(reader.cursor());
            }
            assertEquals(stop / perEpoch, cursor.epoch());
            assertEquals(stop % perEpoch, cursor.position());
            assertEquals(cursor, Cursor.parse(cursor.toString()));
            List<Integer> after = read(options, cursor, total - stop);
            before.addAll(after);
            assertEquals(reference, before, "resume after " + stop + " rows");
        }
    }

    @Test
    void batchesAreTheRowsFlattened() throws IOException {
        ReaderOptions options = ReaderOptions.of(0, 1, 4);
        List<Integer> ids = read(options, Cursor.START, 10);
        try (ShardReader reader = ShardReader.open(fs, dataset, options, Cursor.START)) {
            ShardBatch a = reader.nextBatch(4);
            ShardBatch b = reader.nextBatch(6);
            assertEquals(new Cursor(0, 10), reader.cursor());
            assertEquals(8, a.seqLen());
            List<Integer> batched = new ArrayList<>();
            for (ShardBatch batch : List.of(a, b)) {
                assertEquals(batch.rows() * 8, batch.inputIds().length);
                for (int r = 0; r < batch.rows(); r++) {
                    int id = batch.inputIds()[r * 8] / 1000;
                    batched.add(id);
                    PackedRow expected = TestDatasets.row(id, 8, 3 + id % 5);
                    assertArrayEquals(expected.labels(), java.util.Arrays.copyOfRange(batch.labels(), r * 8, r * 8 + 8));
                    assertArrayEquals(expected.docIds(), java.util.Arrays.copyOfRange(batch.docIds(), r * 8, r * 8 + 8));
                }
            }
            assertEquals(ids, batched);
        }
    }

    @Test
    void parallelDecodingKeepsTheOrder() throws IOException {
        ReaderOptions one = ReaderOptions.of(0, 1, 9).withDecodeThreads(1);
        assertEquals(read(one, new Cursor(0, 3), 2 * TOTAL),
                read(one.withDecodeThreads(3), new Cursor(0, 3), 2 * TOTAL));
    }

    @Test
    void tooManyRanksAndBadCursorsAreRefused() throws IOException {
        assertThrows(IllegalArgumentException.class,
                () -> ShardReader.open(fs, dataset, ReaderOptions.of(0, 40, 1), Cursor.START));
        try (ShardReader reader = ShardReader.open(fs, dataset, ReaderOptions.of(0, 1, 1), new Cursor(0, 1000))) {
            IOException e = assertThrows(IOException.class, reader::next);
            assertEquals(true, e.getMessage().contains("past"), e.getMessage());
        }
        assertThrows(IOException.class, () -> ShardReader.open(fs, new Path(dataset, "nope"), ReaderOptions.of(0, 1, 1),
                Cursor.START));
    }

    @Test
    void rowsKeepTheirContent() throws IOException {
        try (ShardReader reader = ShardReader.open(fs, dataset, ReaderOptions.of(0, 1, 5), Cursor.START)) {
            assertEquals(SampleLayout.TOKENS, reader.layout());
            for (Sample row : reader.next(TOTAL)) {
                int id = row.ints(Sample.INPUT_IDS)[0] / 1000;
                PackedRow expected = TestDatasets.row(id, 8, 3 + id % 5);
                assertEquals(SampleLayout.TOKENS, row.layout());
                assertEquals(Set.of(Sample.INPUT_IDS, Sample.LABELS, Sample.POSITION_IDS, Sample.DOC_IDS),
                        row.columns().keySet(), "row " + id);
                assertArrayEquals(expected.inputIds(), row.ints(Sample.INPUT_IDS), "row " + id);
                assertArrayEquals(expected.labels(), row.ints(Sample.LABELS), "row " + id);
                assertArrayEquals(expected.positionIds(), row.ints(Sample.POSITION_IDS), "row " + id);
                assertArrayEquals(expected.docIds(), row.ints(Sample.DOC_IDS), "row " + id);
            }
        }
    }

    @Test
    void mediaRowsComeOutAsSamplesHoldingTheWrittenPixels(@TempDir java.nio.file.Path dir) throws IOException {
        Path media = new Path(dir.toUri());
        TestDatasets.write(fs, media, new int[] {5, 4}, 3, true);
        try (ShardReader reader = ShardReader.open(fs, media, ReaderOptions.of(0, 1, 3), Cursor.START)) {
            assertEquals(SampleLayout.TOKENS_WITH_MEDIA, reader.layout());
            Set<Integer> seen = new TreeSet<>();
            for (Sample row : reader.next(9)) {
                int id = row.ints(Sample.INPUT_IDS)[0] / 1000;
                seen.add(id);
                PackedRow expected = TestDatasets.row(id, 8, 3 + id % 5);
                assertEquals(SampleLayout.TOKENS_WITH_MEDIA, row.layout());
                assertArrayEquals(expected.inputIds(), row.ints(Sample.INPUT_IDS), "row " + id);
                assertArrayEquals(expected.labels(), row.ints(Sample.LABELS), "row " + id);
                assertArrayEquals(expected.positionIds(), row.ints(Sample.POSITION_IDS), "row " + id);
                assertArrayEquals(expected.docIds(), row.ints(Sample.DOC_IDS), "row " + id);
                // TestDatasets writes an image (1x2x3) and a two-frame video (2x1x2) per row, both of document 0.
                List<byte[]> pixels = row.blobs(Sample.PIXEL_VALUES);
                assertEquals(2, pixels.size(), "row " + id);
                assertArrayEquals(TestDatasets.media(id, 1, 2, 3).pixels(), pixels.get(0), "row " + id);
                assertArrayEquals(TestDatasets.media(id, 2, 1, 2).pixels(), pixels.get(1), "row " + id);
                assertArrayEquals(new int[][] {{1, 2, 3, 3}, {2, 1, 2, 3}}, row.intRows(Sample.MEDIA_SHAPES));
                assertArrayEquals(new int[] {0, 0}, row.ints(Sample.MEDIA_DOC_IDS), "row " + id);
            }
            assertEquals(new TreeSet<>(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9)), seen);
        }
    }

    @Test
    void aManifestWhoseLayoutContradictsItsSchemaIsRefused(@TempDir java.nio.file.Path dir) throws IOException {
        Path media = new Path(dir.toUri());
        ai.omnispark.data.arrow.Manifest m = TestDatasets.write(fs, media, new int[] {2}, 2, true);
        new ai.omnispark.data.arrow.Manifest(m.formatVersion(), m.fingerprint(), m.dataType(), "tokens", m.maxSeqLen(),
                m.rowsPerBatch(), m.inputRecords(), m.rows(), m.documents(), m.tokens(), m.images(), m.videos(),
                m.frames(), m.rejected(), m.rejectedByReason(), m.shards(), m.schema(), m.config()).write(fs, media);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ShardReader.open(fs, media, ReaderOptions.of(0, 1, 1), Cursor.START));
        assertEquals("the manifest of " + media + " declares sample_layout tokens but its shard schema holds "
                + "tokens_with_media rows", e.getMessage());
    }

    private static Cursor roundTrip(Cursor cursor) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(cursor);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (Cursor) in.readObject();
        }
    }
}
