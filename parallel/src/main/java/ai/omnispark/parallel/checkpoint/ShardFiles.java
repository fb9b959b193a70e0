package ai.omnispark.parallel.checkpoint;

import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsFormatException;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One rank's slices as a safetensors file: each slice is a 1-D F32 tensor named by its key, and the
 * file's metadata records where it sits in the full tensor ({@code key -> "begin,total"}).
 */
final class ShardFiles {
    private ShardFiles() {}

    /** What a written file was: its size and CRC-32, recorded so the loader can detect corruption. */
    record Written(String name, long bytes, long crc32) {}

    static Written write(FileSystem fs, Path file, Map<String, Slice> slices) throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, Slice> e : slices.entrySet()) {
            Slice s = e.getValue();
            ByteBuffer b = ByteBuffer.allocate(s.values().length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(s.values());
            writer.add(e.getKey(), SafeDType.F32, new long[] {s.values().length}, b);
            meta.put(e.getKey(), s.begin() + "," + s.total());
        }
        writer.metadata(meta);
        CRC32 crc = new CRC32();
        try (FSDataOutputStream raw = fs.create(file, true);
                OutputStream out = new CheckedOutputStream(raw, crc)) {
            writer.write(out);
            out.flush();
            return new Written(file.getName(), raw.getPos(), crc.getValue());
        }
    }

    /** Reads a whole shard file, checking its size and CRC-32 before parsing it. */
    static Map<String, Slice> read(FileSystem fs, Path file, long bytes, long crc32) throws IOException {
        if (!fs.exists(file)) {
            throw new IOException("checkpoint file " + file + " is missing");
        }
        long size = fs.getFileStatus(file).getLen();
        if (size != bytes) {
            throw new IOException("checkpoint file " + file + " has " + size + " bytes, the index says " + bytes);
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new IOException("checkpoint file " + file + " is over 2 GiB; shard the model over more ranks");
        }
        byte[] data = new byte[(int) size];
        try (InputStream in = fs.open(file)) {
            int off = 0;
            while (off < data.length) {
                int n = in.read(data, off, data.length - off);
                if (n < 0) {
                    throw new IOException("checkpoint file " + file + " ended after " + off + " bytes");
                }
                off += n;
            }
        }
        CRC32 crc = new CRC32();
        crc.update(data);
        if (crc.getValue() != crc32) {
            throw new IOException("checkpoint file " + file + " is corrupt: CRC-32 " + Long.toHexString(crc.getValue())
                    + ", the index says " + Long.toHexString(crc32));
        }
        Map<String, Slice> out = new LinkedHashMap<>();
        try (SafeTensorsReader r = SafeTensorsReader.open(new BytesChannel(data), data.length, file.toString())) {
            for (TensorInfo t : r.tensors()) {
                String where = r.metadata().get(t.name());
                if (where == null || t.dtype() != SafeDType.F32 || t.shape().length != 1) {
                    throw new SafeTensorsFormatException("checkpoint file " + file + ": tensor " + t.name()
                            + " is not a 1-D F32 slice with its position in the metadata");
                }
                String[] parts = where.split(",");
                long begin = Long.parseLong(parts[0]);
                long total = Long.parseLong(parts[1]);
                try {
                    out.put(t.name(), new Slice(total, begin, r.readFloats(t.name())));
                } catch (IllegalArgumentException e) {
                    throw new SafeTensorsFormatException("checkpoint file " + file + ": " + e.getMessage());
                }
            }
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            throw new SafeTensorsFormatException("checkpoint file " + file + " has malformed slice metadata");
        }
        return out;
    }

    /** A read-only channel over bytes already in memory. */
    private static final class BytesChannel implements SeekableByteChannel {
        private final byte[] data;
        private long position;
        private boolean open = true;

        BytesChannel(byte[] data) {
            this.data = data;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (position >= data.length) {
                return -1;
            }
            int n = (int) Math.min(dst.remaining(), data.length - position);
            dst.put(data, (int) position, n);
            position += n;
            return n;
        }

        @Override
        public int write(ByteBuffer src) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public SeekableByteChannel position(long newPosition) {
            position = newPosition;
            return this;
        }

        @Override
        public long size() {
            return data.length;
        }

        @Override
        public SeekableByteChannel truncate(long size) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }
    }
}
