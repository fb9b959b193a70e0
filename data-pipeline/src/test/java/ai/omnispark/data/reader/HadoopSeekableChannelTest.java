package ai.omnispark.data.reader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardRowDecoder;
import ai.omnispark.data.arrow.TestDatasets;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The channel HDFS and S3A shards are read through, exercised on the checksummed local FileSystem. */
class HadoopSeekableChannelTest {
    @TempDir
    java.nio.file.Path tmp;

    @Test
    void seeksAndReadsLikeAFileChannel() throws Exception {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        Path dir = new Path(tmp.toUri());
        Manifest manifest = TestDatasets.write(fs, dir, new int[] {9}, 4, true);
        Path shard = new Path(dir, manifest.shards().get(0).path());
        byte[] bytes = Files.readAllBytes(tmp.resolve(manifest.shards().get(0).path()));
        try (SeekableByteChannel channel = HadoopSeekableChannel.viaHadoop(fs, shard)) {
            assertEquals(bytes.length, channel.size());
            ByteBuffer buffer = ByteBuffer.allocate(100);
            channel.position(bytes.length - 50);
            assertEquals(50, channel.read(buffer));
            assertEquals(-1, channel.read(ByteBuffer.allocate(1)));
            assertArrayEquals(java.util.Arrays.copyOfRange(bytes, bytes.length - 50, bytes.length),
                    java.util.Arrays.copyOf(buffer.array(), 50));
        }
        try (BufferAllocator allocator = new RootAllocator();
                ArrowFileReader reader = new ArrowFileReader(HadoopSeekableChannel.viaHadoop(fs, shard), allocator)) {
            List<ArrowBlock> blocks = reader.getRecordBlocks();
            assertEquals(3, blocks.size());
            // Out of order, as the shuffled reader asks for them.
            int[] firstIds = new int[3];
            for (int b : new int[] {2, 0, 1}) {
                reader.loadRecordBatch(blocks.get(b));
                firstIds[b] = ShardRowDecoder.decode(reader.getVectorSchemaRoot(), 0).row().inputIds()[0] / 1000;
            }
            assertArrayEquals(new int[] {1, 5, 9}, firstIds);
        }
    }
}
