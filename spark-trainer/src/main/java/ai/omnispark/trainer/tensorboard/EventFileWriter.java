package ai.omnispark.trainer.tensorboard;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32C;
import org.apache.hadoop.fs.FSDataOutputStream;

/**
 * A TensorBoard event file: TFRecord framing around {@code tensorflow.Event} protobufs, written by
 * hand so no protobuf or TensorFlow dependency is needed. The file starts with the
 * {@code file_version} event TensorBoard expects; each {@link #scalars} call appends one event
 * holding a {@code Summary} of simple values, and is flushed so a running TensorBoard sees it.
 *
 * <p>Record: {@code uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)},
 * little-endian. Event: {@code wall_time} double (field 1), {@code step} int64 (2),
 * {@code file_version} string (3), {@code summary} (5); Summary.Value: {@code tag} (1),
 * {@code simple_value} float (2).
 */
public final class EventFileWriter implements AutoCloseable {
    static final String FILE_VERSION = "brain.Event:2";

    private final FSDataOutputStream out;

    /** Takes ownership of {@code out} and writes the version record. */
    public EventFileWriter(FSDataOutputStream out, double wallTime) throws IOException {
        this.out = out;
        Proto event = new Proto().fixed64(1, Double.doubleToLongBits(wallTime)).bytes(3, utf8(FILE_VERSION));
        record(event.toByteArray());
    }

    /** One event at {@code step} with a simple value per tag, in the map's order. */
    public void scalars(long step, double wallTime, Map<String, Double> values) throws IOException {
        Proto summary = new Proto();
        for (Map.Entry<String, Double> e : values.entrySet()) {
            Proto value = new Proto().bytes(1, utf8(e.getKey()))
                    .fixed32(2, Float.floatToIntBits(e.getValue().floatValue()));
            summary.bytes(1, value.toByteArray());
        }
        Proto event = new Proto().fixed64(1, Double.doubleToLongBits(wallTime)).varint(2, step)
                .bytes(5, summary.toByteArray());
        record(event.toByteArray());
    }

    private void record(byte[] data) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(data.length);
        header.putInt(maskedCrc(header.array(), 0, 8));
        ByteBuffer footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        footer.putInt(maskedCrc(data, 0, data.length));
        out.write(header.array());
        out.write(data);
        out.write(footer.array());
        out.hflush();
    }

    /** TFRecord's CRC mask: rotate right by 15 and add a constant, so CRCs of CRCs stay well spread. */
    static int maskedCrc(byte[] b, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(b, off, len);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + 0xa282ead8;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** The protobuf wire format, as far as events need it. */
    private static final class Proto {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        Proto varint(int field, long v) {
            raw((long) field << 3);
            raw(v);
            return this;
        }

        Proto fixed64(int field, long bits) {
            raw(((long) field << 3) | 1);
            for (int i = 0; i < 8; i++) {
                buf.write((int) (bits >>> (8 * i)));
            }
            return this;
        }

        Proto fixed32(int field, int bits) {
            raw(((long) field << 3) | 5);
            for (int i = 0; i < 4; i++) {
                buf.write(bits >>> (8 * i));
            }
            return this;
        }

        Proto bytes(int field, byte[] data) {
            raw(((long) field << 3) | 2);
            raw(data.length);
            buf.write(data, 0, data.length);
            return this;
        }

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                buf.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.write((int) v);
        }

        byte[] toByteArray() {
            return buf.toByteArray();
        }
    }
}
