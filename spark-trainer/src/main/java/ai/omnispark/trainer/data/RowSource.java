package ai.omnispark.trainer.data;

import ai.omnispark.models.api.Sample;
import java.util.List;

/**
 * The samples of one data-parallel rank, in a deterministic order that a cursor can resume. What a
 * sample holds (tokens, or tokens with media) is the dataset's layout; the family's collator reads it.
 */
public interface RowSource extends AutoCloseable {
    /** The next {@code count} rows of this rank; epochs roll over. */
    List<Sample> next(int count);

    /** Rows one rank sees per epoch. */
    long rowsPerEpoch();

    /**
     * From now on, every epoch ends after its first {@code rows} rows (the rest are dropped), so
     * that data-parallel ranks holding different counts stay in step. At most {@link #rowsPerEpoch()}.
     */
    void limitRowsPerEpoch(long rows);

    /** Where the next row comes from: (epoch, index within the epoch). */
    long[] cursor();

    /** Continue from a cursor returned by {@link #cursor()}. */
    void seek(long[] cursor);

    @Override
    default void close() {}
}
