package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.media.MediaOptions;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MediaLoaderTest {
    @TempDir
    Path tmp;

    @Test
    void aOneGigabyteFileIsRejectedWithoutBeingRead() throws Exception {
        Path huge = tmp.resolve("huge.png");
        // Sparse: the length is set, no gigabyte is written.
        try (RandomAccessFile file = new RandomAccessFile(huge.toFile(), "rw")) {
            file.setLength(1L << 30);
        }
        MediaLoader loader = new MediaLoader(new Configuration(), MediaOptions.DEFAULTS.maxMediaBytes());
        SampleRejected e = assertThrows(SampleRejected.class, () -> loader.load(MediaRef.ofPath(huge.toString()), null));
        assertEquals(RejectReason.MEDIA_TOO_LARGE, e.reason());
        assertTrue(e.getMessage().contains("huge.png") && e.getMessage().contains("1073741824 bytes")
                && e.getMessage().contains("data.max_media_bytes=268435456"), e.getMessage());
    }

    @Test
    void theByteCapIsExactForFilesAndInlineBytes() throws Exception {
        byte[] content = new byte[1000];
        new SplittableRandom(5).nextBytes(content);
        Path file = Files.write(tmp.resolve("clip.mp4"), content);
        MediaRef byPath = MediaRef.ofPath(file.toString());
        MediaRef inline = MediaRef.ofBytes(content);

        assertArrayEquals(content, new MediaLoader(new Configuration(), 1000).load(byPath, null));
        assertArrayEquals(content, new MediaLoader(new Configuration(), 1000).load(inline, null));
        MediaLoader oneShort = new MediaLoader(new Configuration(), 999);
        for (MediaRef ref : new MediaRef[] {byPath, inline}) {
            SampleRejected e = assertThrows(SampleRejected.class, () -> oneShort.load(ref, null));
            assertEquals(RejectReason.MEDIA_TOO_LARGE, e.reason());
            assertTrue(e.getMessage().contains("1000 bytes") && e.getMessage().contains("data.max_media_bytes=999"),
                    e.getMessage());
        }
    }
}
