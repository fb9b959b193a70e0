package ai.omnispark.models.api;

import java.util.List;
import java.util.Map;

/**
 * One training sample as the reader hands it to a family's collator: the columns of one shard row
 * by name. Token rows carry {@code int[]} columns of equal length; media rows add
 * {@code pixel_values} (a {@code List<byte[]>}), {@code media_shapes} ({@code int[][]}) and
 * {@code media_doc_ids} ({@code int[]}). The reader does not interpret them: the collator does.
 */
public record Sample(SampleLayout layout, Map<String, Object> columns) {
    public static final String INPUT_IDS = "input_ids";
    public static final String LABELS = "labels";
    public static final String POSITION_IDS = "position_ids";
    public static final String DOC_IDS = "doc_ids";
    public static final String PIXEL_VALUES = "pixel_values";
    public static final String MEDIA_SHAPES = "media_shapes";
    public static final String MEDIA_DOC_IDS = "media_doc_ids";
    /** The label of a position that takes no loss. */
    public static final int IGNORE = -100;

    public Sample {
        columns = Map.copyOf(columns);
    }

    /** A packed token row. */
    public static Sample tokens(int[] inputIds, int[] labels, int[] positionIds, int[] docIds) {
        return new Sample(SampleLayout.TOKENS, Map.of(INPUT_IDS, inputIds, LABELS, labels,
                POSITION_IDS, positionIds, DOC_IDS, docIds));
    }

    public boolean has(String column) {
        return columns.containsKey(column);
    }

    public int[] ints(String column) {
        return (int[]) column(column);
    }

    public int[][] intRows(String column) {
        return (int[][]) column(column);
    }

    @SuppressWarnings("unchecked")
    public List<byte[]> blobs(String column) {
        return (List<byte[]>) column(column);
    }

    /** Positions of a token row. */
    public int length() {
        return ints(INPUT_IDS).length;
    }

    private Object column(String column) {
        Object v = columns.get(column);
        if (v == null) {
            throw new IllegalArgumentException("a " + layout.key() + " sample has no column '" + column
                    + "'; it has " + columns.keySet());
        }
        return v;
    }
}
