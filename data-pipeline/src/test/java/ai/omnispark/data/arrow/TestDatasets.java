package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Small hand-made datasets whose every row is recognisable by its first token. */
public final class TestDatasets {
    private TestDatasets() {}

    public static FileSystem localFs() throws IOException {
        return FileSystem.getLocal(new Configuration()).getRawFileSystem();
    }

    /** A row of {@code len} positions: one document whose tokens are id, id+1, ..., then padding. */
    public static PackedRow row(int id, int len, int used) {
        int[] ids = new int[len];
        int[] labels = new int[len];
        int[] pos = new int[len];
        int[] doc = new int[len];
        for (int t = 0; t < len; t++) {
            boolean real = t < used;
            ids[t] = real ? id * 1000 + t : -7;
            labels[t] = real && t + 1 < used ? id * 1000 + t + 1 : PackedRow.IGNORE;
            pos[t] = real ? t : 0;
            doc[t] = real ? 0 : -1;
        }
        return new PackedRow(ids, labels, pos, doc);
    }

    public static Media media(int id, int frames, int h, int w) {
        byte[] px = new byte[frames * h * w * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i * 31 + id);
        }
        return new Media(px, frames, h, w, 3, 0);
    }

    /** Writes shards holding {@code rowsPerShard[s]} rows each (ids numbered across shards) plus a manifest. */
    public static Manifest write(FileSystem fs, Path dir, int[] rowsPerShard, int rowsPerBatch, boolean withMedia)
            throws IOException {
        fs.mkdirs(dir);
        List<ShardInfo> shards = new ArrayList<>();
        int id = 1;
        long rows = 0;
        long tokens = 0;
        for (int s = 0; s < rowsPerShard.length; s++) {
            Path path = new Path(dir, String.format("part-%05d.arrow", s));
            try (ShardWriter writer = new ShardWriter(fs, path, withMedia, rowsPerBatch)) {
                for (int r = 0; r < rowsPerShard[s]; r++, id++) {
                    int used = 3 + id % 5;
                    List<Media> media = withMedia ? List.of(media(id, 1, 2, 3), media(id, 2, 1, 2)) : List.of();
                    writer.write(new ShardRow(row(id, 8, used), media));
                    tokens += used;
                }
                shards.add(writer.finish());
            }
            rows += rowsPerShard[s];
        }
        Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, "test", "plaintext", 8, rowsPerBatch, rows, rows,
                rows, tokens, 0, 0, 0, 0, Map.of(), shards, Manifest.schemaJson(ShardSchema.of(withMedia)), Map.of());
        manifest.write(fs, dir);
        return manifest;
    }
}
