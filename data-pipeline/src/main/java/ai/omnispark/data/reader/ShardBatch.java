package ai.omnispark.data.reader;

import ai.omnispark.data.media.Media;
import java.util.List;

/**
 * {@code rows} consecutive rows laid out row-major in flat arrays of {@code rows × seqLen}, the
 * layout a {@code [rows, seqLen]} tensor takes in one bulk copy (e.g. DJL's
 * {@code manager.create(IntBuffer.wrap(inputIds), new Shape(rows, seqLen))}).
 *
 * @param media per row, its media in placeholder order
 */
public record ShardBatch(int rows, int seqLen, int[] inputIds, int[] labels, int[] positionIds, int[] docIds,
        List<List<Media>> media) {}
