package ai.omnispark.trainer.data;

import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Rows of a prepared dataset (Arrow shards + manifest.json), streamed by a prefetching
 * {@link ShardReader}. The cursor is this rank's (epoch, position); every rank reads the same
 * number of rows per step, so one cursor resumes them all at the same world size.
 */
public final class ShardRows implements RowSource {
    private final FileSystem fs;
    private final Path dataset;
    private final ReaderOptions options;
    private ShardReader reader;

    public ShardRows(FileSystem fs, Path dataset, long seed, int dpRank, int dpSize) throws IOException {
        this.fs = fs;
        this.dataset = dataset;
        this.options = ReaderOptions.of(dpRank, dpSize, seed);
        this.reader = ShardReader.open(fs, dataset, options, Cursor.START);
    }

    @Override
    public List<PackedRow> next(int count) {
        try {
            List<PackedRow> out = new ArrayList<>(count);
            for (ShardRow r : reader.next(count)) {
                if (!r.media().isEmpty()) {
                    throw new IllegalStateException(dataset + " holds image/video rows; the decoder LM trains on text "
                            + "only (prepare it with data.data_type plaintext or conversation)");
                }
                out.add(r.row());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + dataset, e);
        }
    }

    @Override
    public long rowsPerEpoch() {
        return reader.rowsPerEpoch();
    }

    @Override
    public long[] cursor() {
        Cursor c = reader.cursor();
        return new long[] {c.epoch(), c.position()};
    }

    @Override
    public void seek(long[] cursor) {
        reader.close();
        try {
            reader = ShardReader.open(fs, dataset, options, new Cursor(cursor[0], cursor[1]));
        } catch (IOException e) {
            throw new UncheckedIOException("reopening " + dataset, e);
        }
    }

    @Override
    public void close() {
        reader.close();
    }

    /** Whether {@code path} is a prepared dataset (has a manifest). */
    public static boolean isDataset(FileSystem fs, Path path) throws IOException {
        return fs.exists(new Path(path, "manifest.json"));
    }
}
