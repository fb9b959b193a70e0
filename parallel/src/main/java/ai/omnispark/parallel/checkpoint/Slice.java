package ai.omnispark.parallel.checkpoint;

/** Elements {@code [begin, begin + values.length)} of a flat tensor of {@code total} elements. */
public record Slice(long total, long begin, float[] values) {
    public Slice {
        if (begin < 0 || begin + values.length > total) {
            throw new IllegalArgumentException("slice [" + begin + ", " + (begin + values.length)
                    + ") does not fit a tensor of " + total + " elements");
        }
    }

    public long end() {
        return begin + values.length;
    }
}
