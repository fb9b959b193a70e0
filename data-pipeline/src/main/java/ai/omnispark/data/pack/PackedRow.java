package ai.omnispark.data.pack;

/**
 * One training row holding several documents.
 *
 * <p>{@code labels[t]} is the target of position {@code t}, already shifted (the next token of
 * the same document), or {@link #IGNORE} where no loss is taken (a document's last position,
 * padding, prompt tokens). {@code positionIds} restart at 0 for each document; {@code docIds}
 * number the documents of the row from 0 and are {@code -1} on padding, so attention can be kept
 * inside a document.
 */
public record PackedRow(int[] inputIds, int[] labels, int[] positionIds, int[] docIds) {
    public static final int IGNORE = -100;

    public PackedRow {
        int n = inputIds.length;
        if (labels.length != n || positionIds.length != n || docIds.length != n) {
            throw new IllegalArgumentException("packed row arrays differ in length: inputIds="
                    + n + ", labels=" + labels.length + ", positionIds=" + positionIds.length
                    + ", docIds=" + docIds.length);
        }
    }

    /** This row as a {@link ai.omnispark.models.api.SampleLayout#TOKENS} sample (the arrays are shared, not copied). */
    public ai.omnispark.models.api.Sample sample() {
        return ai.omnispark.models.api.Sample.tokens(inputIds, labels, positionIds, docIds);
    }

    public int length() {
        return inputIds.length;
    }

    /** Number of positions that carry a loss. */
    public int lossTokens() {
        int count = 0;
        for (int label : labels) {
            if (label != IGNORE) {
                count++;
            }
        }
        return count;
    }
}
