package ai.omnispark.data.arrow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardWriterTest {
    @TempDir
    java.nio.file.Path tmp;

    @Test
    void shardsReadBackWithPlainArrowAndMatchTheManifest() throws Exception {
        FileSystem fs = TestDatasets.localFs();
        Path dir = new Path(tmp.toUri());
        Manifest written = TestDatasets.write(fs, dir, new int[] {10, 3}, 4, true);
        Manifest manifest = Manifest.read(fs, dir).orElseThrow();
        assertEquals(written, manifest, "manifest survives a JSON round trip");
        assertEquals(ShardSchema.of(true), manifest.arrowSchema());
        assertEquals(13, manifest.rows());

        int id = 1;
        for (ShardInfo shard : manifest.shards()) {
            java.nio.file.Path file = tmp.resolve(shard.path());
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(shard.bytes(), bytes.length);
            assertEquals("sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
                    shard.checksum());
            assertEquals(2 * shard.rows(), shard.images() + shard.videos());
            assertEquals(2 * shard.rows(), shard.frames());
            try (BufferAllocator allocator = new RootAllocator();
                    ArrowFileReader reader = new ArrowFileReader(FileChannel.open(file, StandardOpenOption.READ), allocator)) {
                List<ArrowBlock> blocks = reader.getRecordBlocks();
                assertEquals((shard.rows() + 3) / 4, blocks.size(), "record batches of rows_per_batch rows");
                for (ArrowBlock block : blocks) {
                    assertTrue(reader.loadRecordBatch(block));
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    ListVector inputIds = (ListVector) root.getVector(ShardSchema.INPUT_IDS);
                    for (int r = 0; r < root.getRowCount(); r++, id++) {
                        PackedRow expected = TestDatasets.row(id, 8, 3 + id % 5);
                        List<?> generic = inputIds.getObject(r);
                        List<Integer> expectedIds = new ArrayList<>();
                        for (int v : expected.inputIds()) {
                            expectedIds.add(v);
                        }
                        assertEquals(expectedIds, generic, "a generic Arrow reader sees the tokens");
                        ShardRow decoded = ShardRowDecoder.decode(root, r);
                        assertArrayEquals(expected.inputIds(), decoded.row().inputIds());
                        assertArrayEquals(expected.labels(), decoded.row().labels());
                        assertArrayEquals(expected.positionIds(), decoded.row().positionIds());
                        assertArrayEquals(expected.docIds(), decoded.row().docIds());
                        List<Media> media = decoded.media();
                        assertEquals(2, media.size());
                        assertArrayEquals(TestDatasets.media(id, 1, 2, 3).pixels(), media.get(0).pixels());
                        assertEquals(List.of(2, 1, 2, 3), List.of(media.get(1).frames(), media.get(1).height(),
                                media.get(1).width(), media.get(1).channels()));
                    }
                }
            }
        }
        assertEquals(14, id);
    }

    @Test
    void abandonedWriterLeavesNoFile() throws Exception {
        FileSystem fs = TestDatasets.localFs();
        Path target = new Path(new Path(tmp.toUri()), "part-00000.arrow");
        try (ShardWriter writer = new ShardWriter(fs, target, false, 2)) {
            writer.write(ShardRow.text(TestDatasets.row(1, 4, 2)));
        }
        assertFalse(fs.exists(target));
        try (var files = Files.list(tmp)) {
            assertEquals(0, files.count(), "the in-progress file is removed too");
        }
    }
}
