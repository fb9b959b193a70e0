package ai.omnispark.data.reader;

import java.io.Serializable;

/**
 * Where a rank's reader stands: the next row is row {@code position} of epoch {@code epoch} in
 * this rank's order. Together with the dataset, seed and (dpRank, dpSize) it fixes every row that
 * follows, so a checkpoint stores it to resume exactly.
 */
public record Cursor(long epoch, long position) implements Serializable {
    public static final Cursor START = new Cursor(0, 0);

    public Cursor {
        if (epoch < 0 || position < 0) {
            throw new IllegalArgumentException("cursor must be non-negative, got " + epoch + ":" + position);
        }
    }

    /** {@code "epoch:position"}, the form a checkpoint's extra_state keeps. */
    @Override
    public String toString() {
        return epoch + ":" + position;
    }

    public static Cursor parse(String text) {
        int colon = text.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("cursor '" + text + "' is not epoch:position");
        }
        return new Cursor(Long.parseLong(text.substring(0, colon).trim()),
                Long.parseLong(text.substring(colon + 1).trim()));
    }
}
