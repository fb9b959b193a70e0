package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardRowDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;

/** Reads a prepared dataset back with plain Arrow and splits its rows into documents. */
final class PreparedShards {
    private PreparedShards() {}

    /** One document as found in a row: its tokens, labels and media. */
    record Doc(int[] tokens, int[] labels, List<Media> media) {}

    static Manifest manifest(Path dir) throws IOException {
        return new ObjectMapper().readValue(dir.resolve(Manifest.FILE_NAME).toFile(), Manifest.class);
    }

    /** Every row of every shard, checking sizes and checksums against the manifest on the way. */
    static List<ShardRow> rows(Path dir) throws Exception {
        Manifest manifest = manifest(dir);
        List<ShardRow> rows = new ArrayList<>();
        for (ShardInfo shard : manifest.shards()) {
            Path file = dir.resolve(shard.path());
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(shard.bytes(), bytes.length, shard.path());
            assertEquals("sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
                    shard.checksum(), shard.path());
            long before = rows.size();
            try (BufferAllocator allocator = new RootAllocator();
                    ArrowFileReader reader = new ArrowFileReader(FileChannel.open(file, StandardOpenOption.READ), allocator)) {
                assertEquals(manifest.arrowSchema(), reader.getVectorSchemaRoot().getSchema());
                for (ArrowBlock block : reader.getRecordBlocks()) {
                    assertTrue(reader.loadRecordBatch(block));
                    assertTrue(reader.getVectorSchemaRoot().getRowCount() <= manifest.rowsPerBatch());
                    for (int r = 0; r < reader.getVectorSchemaRoot().getRowCount(); r++) {
                        rows.add(ShardRowDecoder.decode(reader.getVectorSchemaRoot(), r));
                    }
                }
            }
            assertEquals(shard.rows(), rows.size() - before, shard.path());
        }
        assertEquals(manifest.rows(), rows.size());
        return rows;
    }

    /**
     * The documents of a row, checking the row's invariants: documents are contiguous, positions
     * restart at 0, labels never cross a document boundary, padding carries no label.
     */
    static List<Doc> documents(ShardRow shardRow, int padId) {
        PackedRow row = shardRow.row();
        List<Doc> docs = new ArrayList<>();
        int t = 0;
        int expectedDoc = 0;
        while (t < row.length() && row.docIds()[t] >= 0) {
            int d = row.docIds()[t];
            assertEquals(expectedDoc, d, "documents are numbered in order");
            int start = t;
            while (t < row.length() && row.docIds()[t] == d) {
                assertEquals(t - start, row.positionIds()[t], "positions restart per document");
                t++;
            }
            int[] tokens = Arrays.copyOfRange(row.inputIds(), start, t);
            int[] labels = Arrays.copyOfRange(row.labels(), start, t);
            assertEquals(PackedRow.IGNORE, labels[labels.length - 1], "the last token of a document predicts nothing");
            for (int i = 0; i + 1 < labels.length; i++) {
                assertTrue(labels[i] == PackedRow.IGNORE || labels[i] == tokens[i + 1],
                        "a label is the next token of the same document");
            }
            List<Media> media = new ArrayList<>();
            for (Media m : shardRow.media()) {
                if (m.docIndex() == d) {
                    media.add(m);
                }
            }
            docs.add(new Doc(tokens, labels, media));
            expectedDoc++;
        }
        for (; t < row.length(); t++) {
            assertEquals(-1, row.docIds()[t], "padding only at the tail");
            assertEquals(padId, row.inputIds()[t]);
            assertEquals(PackedRow.IGNORE, row.labels()[t]);
        }
        return docs;
    }
}
