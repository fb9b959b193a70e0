package ai.omnispark.trainer.tensorboard;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A TensorBoard event-file reader written from the format's description, sharing no code with
 * {@link EventFileWriter}: TFRecord framing checked with its own table-driven CRC-32C (Castagnoli,
 * reflected polynomial 0x82F63B78), and a generic protobuf decoder for {@code Event}.
 */
final class TfEventsReader {
    /** One decoded {@code tensorflow.Event}; {@code step} is 0 and {@code fileVersion} null when absent. */
    record Event(double wallTime, long step, String fileVersion, Map<String, Float> simpleValues) {}

    private static final int[] TABLE = table();

    private TfEventsReader() {}

    private static int[] table() {
        int[] t = new int[256];
        for (int n = 0; n < 256; n++) {
            int c = n;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
            }
            t[n] = c;
        }
        return t;
    }

    static int crc32c(byte[] b, int off, int len) {
        int c = 0xFFFFFFFF;
        for (int i = off; i < off + len; i++) {
            c = TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
        }
        return ~c;
    }

    static int masked(int crc) {
        return Integer.rotateRight(crc, 15) + 0xa282ead8;
    }

    static List<Event> read(byte[] file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> events = new ArrayList<>();
        while (in.hasRemaining()) {
            if (in.remaining() < 12) {
                throw new IOException("truncated record header at byte " + in.position());
            }
            int start = in.position();
            long length = in.getLong();
            int lengthCrc = in.getInt();
            if (lengthCrc != masked(crc32c(file, start, 8))) {
                throw new IOException("bad length CRC at byte " + start);
            }
            if (length < 0 || length > in.remaining() - 4) {
                throw new IOException("record at byte " + start + " claims " + length + " bytes");
            }
            byte[] data = new byte[(int) length];
            in.get(data);
            int dataCrc = in.getInt();
            if (dataCrc != masked(crc32c(data, 0, data.length))) {
                throw new IOException("bad data CRC in record at byte " + start);
            }
            events.add(event(data));
        }
        return events;
    }

    private static Event event(byte[] data) throws IOException {
        double wallTime = 0;
        long step = 0;
        String version = null;
        Map<String, Float> values = new LinkedHashMap<>();
        Wire w = new Wire(data);
        while (w.more()) {
            long key = w.varint();
            int field = (int) (key >>> 3);
            int type = (int) (key & 7);
            if (field == 1 && type == 1) {
                wallTime = Double.longBitsToDouble(w.fixed64());
            } else if (field == 2 && type == 0) {
                step = w.varint();
            } else if (field == 3 && type == 2) {
                version = new String(w.bytes(), StandardCharsets.UTF_8);
            } else if (field == 5 && type == 2) {
                summary(w.bytes(), values);
            } else {
                w.skip(type);
            }
        }
        return new Event(wallTime, step, version, values);
    }

    private static void summary(byte[] data, Map<String, Float> values) throws IOException {
        Wire w = new Wire(data);
        while (w.more()) {
            long key = w.varint();
            if (key >>> 3 == 1 && (key & 7) == 2) {
                Wire v = new Wire(w.bytes());
                String tag = null;
                Float value = null;
                while (v.more()) {
                    long k = v.varint();
                    if (k >>> 3 == 1 && (k & 7) == 2) {
                        tag = new String(v.bytes(), StandardCharsets.UTF_8);
                    } else if (k >>> 3 == 2 && (k & 7) == 5) {
                        value = Float.intBitsToFloat(v.fixed32());
                    } else {
                        v.skip((int) (k & 7));
                    }
                }
                if (tag == null || value == null) {
                    throw new IOException("Summary.Value without tag or simple_value");
                }
                values.put(tag, value);
            } else {
                w.skip((int) (key & 7));
            }
        }
    }

    private static final class Wire {
        private final byte[] b;
        private int pos;

        Wire(byte[] b) {
            this.b = b;
        }

        boolean more() {
            return pos < b.length;
        }

        long varint() throws IOException {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= b.length) {
                    throw new IOException("truncated varint");
                }
                int x = b[pos++] & 0xFF;
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
            throw new IOException("varint longer than 10 bytes");
        }

        long fixed64() {
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v |= (long) (b[pos++] & 0xFF) << (8 * i);
            }
            return v;
        }

        int fixed32() {
            int v = 0;
            for (int i = 0; i < 4; i++) {
                v |= (b[pos++] & 0xFF) << (8 * i);
            }
            return v;
        }

        byte[] bytes() throws IOException {
            int n = Math.toIntExact(varint());
            if (n > b.length - pos) {
                throw new IOException("length-delimited field runs past its message");
            }
            byte[] out = java.util.Arrays.copyOfRange(b, pos, pos + n);
            pos += n;
            return out;
        }

        void skip(int type) throws IOException {
            switch (type) {
                case 0 -> varint();
                case 1 -> pos += 8;
                case 2 -> bytes();
                case 5 -> pos += 4;
                default -> throw new IOException("unknown wire type " + type);
            }
        }
    }
}
