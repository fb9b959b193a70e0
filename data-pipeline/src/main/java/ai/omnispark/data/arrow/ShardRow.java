package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import java.util.List;

/** One row of a shard: the packed tokens plus the media of its documents, in placeholder order. */
public record ShardRow(PackedRow row, List<Media> media) {
    public static ShardRow text(PackedRow row) {
        return new ShardRow(row, List.of());
    }
}
