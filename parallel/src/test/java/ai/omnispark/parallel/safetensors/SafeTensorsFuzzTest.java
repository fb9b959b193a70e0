package ai.omnispark.parallel.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed file is refused with a SafeTensorsFormatException that names the file; nothing else escapes. */
class SafeTensorsFuzzTest {
    @TempDir
    Path dir;

    private static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.flip();
    }

    private static byte[] valid() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new SafeTensorsWriter()
                .add("a", SafeDType.F32, new long[] {2, 3}, floats(1, 2, 3, 4, 5, 6))
                .add("b", SafeDType.F32, new long[] {2}, floats(7, 8))
                .write(out);
        return out.toByteArray();
    }

    /** A file made of the 8-byte length and the given header, then {@code dataBytes} zero bytes. */
    private static byte[] withHeader(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    private Path write(byte[] bytes) throws IOException {
        Path f = Files.createTempFile(dir, "t", ".safetensors");
        Files.write(f, bytes);
        return f;
    }

    private void assertRefused(byte[] bytes, String expectedFragment) throws IOException {
        Path f = write(bytes);
        SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> {
            try (SafeTensorsReader r = SafeTensorsReader.open(f)) {
                for (TensorInfo t : r.tensors()) {
                    r.read(t.name());
                }
            }
        });
        assertTrue(e.getMessage().contains(f.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expectedFragment),
                "message '" + e.getMessage() + "' should mention '" + expectedFragment + "'");
    }

    @Test
    void validFileReadsBack() throws IOException {
        try (SafeTensorsReader r = SafeTensorsReader.open(write(valid()))) {
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, r.readFloats("a"));
            assertArrayEquals(new float[] {7, 8}, r.readFloats("b"));
            assertArrayEquals(new long[] {2, 3}, r.info("a").shape());
        }
    }

    @Test
    void everyTruncationIsRefused() throws IOException {
        byte[] full = valid();
        for (int len = 0; len < full.length; len++) {
            Path f = write(Arrays.copyOf(full, len));
            try (SafeTensorsReader r = SafeTensorsReader.open(f)) {
                for (TensorInfo t : r.tensors()) {
                    r.read(t.name());
                }
                fail("a file cut to " + len + " of " + full.length + " bytes was accepted");
            } catch (SafeTensorsFormatException e) {
                assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
            }
        }
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        byte[] b = withHeader("{}", 0);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1000);
        assertRefused(b, "header of 1000 bytes");
    }

    @Test
    void hundredMegabyteHeaderClaimIsRefusedBeforeAllocating() throws IOException {
        byte[] b = withHeader("{}", 0);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 100_000_001L);
        assertRefused(b, "100000001");
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertRefused(b, "18446744073709551615");
    }

    @Test
    void overlappingOffsets() throws IOException {
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlapping");
    }

    @Test
    void outOfRangeOffsets() throws IOException {
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8),
                "outside the data section");
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8),
                "outside the data section");
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                "needs 12");
    }

    @Test
    void unknownDtype() throws IOException {
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                "unknown dtype");
    }

    @Test
    void malformedHeaders() throws IOException {
        assertRefused(withHeader("{\"a\":", 0), "not valid JSON");
        assertRefused(withHeader("[1,2]", 0), "not a JSON object");
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                "invalid dimension");
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "not valid JSON");
        assertRefused(withHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                + "\"data_offsets\":[0,4]}}", 4), "overflows");
    }

    /** Random byte flips anywhere: the reader either reads the file or refuses it cleanly, never anything else. */
    @Test
    void randomMutationsNeverEscapeAsOtherErrors() throws IOException {
        byte[] full = valid();
        Random random = new Random(7);
        int refused = 0;
        for (int trial = 0; trial < 2000; trial++) {
            byte[] b = full.clone();
            int flips = 1 + random.nextInt(4);
            for (int i = 0; i < flips; i++) {
                // Bias towards the length and the header, where parsing happens.
                int at = random.nextInt(4) == 0 ? random.nextInt(b.length) : random.nextInt(Math.min(b.length, 120));
                b[at] = (byte) random.nextInt(256);
            }
            Path f = write(b);
            try (SafeTensorsReader r = SafeTensorsReader.open(f)) {
                for (TensorInfo t : r.tensors()) {
                    assertEquals(t.byteLength(), r.read(t.name()).remaining());
                }
            } catch (SafeTensorsFormatException e) {
                refused++;
            } catch (Exception e) {
                throw new AssertionError("trial " + trial + " escaped as " + e, e);
            }
            Files.delete(f);
        }
        assertTrue(refused > 100, "most header mutations should be refused, got " + refused);
    }
}
