package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** One row of a shard: the packed tokens plus the media of its documents, in placeholder order. */
public record ShardRow(PackedRow row, List<Media> media) {
    public static ShardRow text(PackedRow row) {
        return new ShardRow(row, List.of());
    }

    /**
     * This row as the columns a collator reads, one per {@link ShardSchema} column. The layout is
     * the dataset's, not the row's: a row of a media dataset whose documents have no media is still
     * a {@link SampleLayout#TOKENS_WITH_MEDIA} sample, with empty media columns.
     */
    public Sample sample(SampleLayout layout) {
        Map<String, Object> columns = new HashMap<>();
        columns.put(Sample.INPUT_IDS, row.inputIds());
        columns.put(Sample.LABELS, row.labels());
        columns.put(Sample.POSITION_IDS, row.positionIds());
        columns.put(Sample.DOC_IDS, row.docIds());
        switch (layout) {
            case TOKENS -> {
                if (!media.isEmpty()) {
                    throw new IllegalArgumentException("a row with " + media.size()
                            + " media is not a tokens sample");
                }
            }
            case TOKENS_WITH_MEDIA -> {
                List<byte[]> pixels = new ArrayList<>(media.size());
                int[][] shapes = new int[media.size()][];
                int[] docs = new int[media.size()];
                for (int k = 0; k < media.size(); k++) {
                    Media m = media.get(k);
                    pixels.add(m.pixels());
                    shapes[k] = new int[] {m.frames(), m.height(), m.width(), m.channels()};
                    docs[k] = m.docIndex();
                }
                columns.put(Sample.PIXEL_VALUES, List.copyOf(pixels));
                columns.put(Sample.MEDIA_SHAPES, shapes);
                columns.put(Sample.MEDIA_DOC_IDS, docs);
            }
            default -> throw new IllegalArgumentException("a shard row is not a " + layout.key() + " sample");
        }
        return new Sample(layout, columns);
    }

    /** The row a sample of a shard came from (the inverse of {@link #sample}). */
    public static ShardRow of(Sample sample) {
        PackedRow row = new PackedRow(sample.ints(Sample.INPUT_IDS), sample.ints(Sample.LABELS),
                sample.ints(Sample.POSITION_IDS), sample.ints(Sample.DOC_IDS));
        if (!sample.has(Sample.PIXEL_VALUES)) {
            return text(row);
        }
        List<byte[]> pixels = sample.blobs(Sample.PIXEL_VALUES);
        int[][] shapes = sample.intRows(Sample.MEDIA_SHAPES);
        int[] docs = sample.ints(Sample.MEDIA_DOC_IDS);
        List<Media> media = new ArrayList<>(pixels.size());
        for (int k = 0; k < pixels.size(); k++) {
            int[] s = shapes[k];
            media.add(new Media(pixels.get(k), s[0], s[1], s[2], s[3], docs[k]));
        }
        return new ShardRow(row, media);
    }
}
