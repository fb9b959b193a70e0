package ai.omnispark.parallel.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors written from arrays a part at a time and read back in ranges: values cross the writer's
 * 1 MiB and the reader's 4 MiB parts, and every element comes back where it was, compared with the
 * arrays written. A data source that produces the wrong number of bytes fails the write.
 */
class SafeTensorsStreamingTest {
    @TempDir
    Path dir;

    @Test
    void arraysWrittenInPartsReadBackWholeAndInRanges() throws IOException {
        float[] big = new float[(5 << 20) / 4 + 3]; // 5 MiB + 12 bytes: several parts on both sides
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.5f - 7;
        }
        short[] halves = new short[(1 << 19) + 5];
        for (int i = 0; i < halves.length; i++) {
            halves[i] = (short) (i * 31);
        }
        Path file = dir.resolve("t.safetensors");
        new SafeTensorsWriter().addFloats("big", big)
                .add("halves", SafeDType.F16, new long[] {halves.length}, TensorBytes.ofShorts(halves))
                .write(file);
        try (SafeTensorsReader r = SafeTensorsReader.open(file)) {
            assertArrayEquals(big, r.readFloats("big"));
            float[] range = new float[(1 << 20) + 9];
            r.readFloats("big", 123_457, range, 4, range.length - 4);
            assertArrayEquals(Arrays.copyOfRange(big, 123_457, 123_457 + range.length - 4),
                    Arrays.copyOfRange(range, 4, range.length));
            ByteBuffer h = ByteBuffer.allocate(halves.length * 2);
            r.readInto("halves", 0, h);
            h.flip().order(ByteOrder.LITTLE_ENDIAN);
            for (short expected : halves) {
                assertEquals(expected, h.getShort());
            }
            assertThrows(IllegalArgumentException.class,
                    () -> r.readFloats("big", big.length - 2, new float[4], 0, 4), "a range past the end");
        }
    }

    @Test
    void aSourceProducingTheWrongByteCountFailsTheWrite() {
        SafeTensorsWriter w = new SafeTensorsWriter().add("short", SafeDType.F32, new long[] {4},
                out -> out.write(new byte[12]));
        IOException e = assertThrows(IOException.class, () -> w.write(new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("'short'") && e.getMessage().contains("12")
                && e.getMessage().contains("16"), e.getMessage());
    }
}
