package ai.omnispark.trainer.data;

import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.models.api.Sample;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Rows of a prepared dataset (Arrow shards + manifest.json), streamed by a prefetching
 * {@link ShardReader}. The cursor is this rank's (epoch, position); every rank reads the same
 * number of rows per step, so one cursor resumes them all at the same world size. Rows come out as
 * the dataset's samples, media included: whether the model takes them is checked on the driver
 * before launch ({@link SampleLayouts}) and read by the family's collator.
 */
public final class ShardRows implements RowSource {
    private final FileSystem fs;
    private final Path dataset;
    private final ReaderOptions options;
    private ShardReader reader;
    private long epochLimit = Long.MAX_VALUE;

    public ShardRows(FileSystem fs, Path dataset, long seed, int dpRank, int dpSize) throws IOException {
        this.fs = fs;
        this.dataset = dataset;
        this.options = ReaderOptions.of(dpRank, dpSize, seed);
        this.reader = ShardReader.open(fs, dataset, options, Cursor.START);
    }

    @Override
    public List<Sample> next(int count) {
        try {
            List<Sample> out = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                if (reader.cursor().position() >= epochLimit) {
                    // The rest of this epoch is dropped: the next row is the first of the next epoch.
                    reopen(new Cursor(reader.cursor().epoch() + 1, 0));
                }
                out.add(reader.next());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + dataset, e);
        }
    }

    @Override
    public long rowsPerEpoch() {
        return Math.min(reader.rowsPerEpoch(), epochLimit);
    }

    @Override
    public void limitRowsPerEpoch(long rows) {
        if (rows < 1 || rows > reader.rowsPerEpoch()) {
            throw new IllegalArgumentException("an epoch limit of " + rows + " rows does not fit the "
                    + reader.rowsPerEpoch() + " rows this rank reads of " + dataset);
        }
        if (reader.cursor().position() > rows) {
            throw new IllegalStateException("cannot limit an epoch to " + rows + " rows at cursor " + reader.cursor());
        }
        epochLimit = rows;
    }

    /** The next row to train on: a cursor at the limit already names the next epoch's first row. */
    @Override
    public long[] cursor() {
        Cursor c = reader.cursor();
        return c.position() >= epochLimit ? new long[] {c.epoch() + 1, 0} : new long[] {c.epoch(), c.position()};
    }

    @Override
    public void seek(long[] cursor) {
        if (cursor.length != 2 || cursor[1] >= epochLimit) {
            throw new IllegalArgumentException("data cursor " + java.util.Arrays.toString(cursor) + " does not fit "
                    + rowsPerEpoch() + " rows per epoch of " + dataset);
        }
        reopen(new Cursor(cursor[0], cursor[1]));
    }

    private void reopen(Cursor at) {
        reader.close();
        try {
            reader = ShardReader.open(fs, dataset, options, at);
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
