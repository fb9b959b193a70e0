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
import java.nio.channels.SeekableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.CheckedOutputStream;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One rank's slices as a safetensors file: each slice is a 1-D F32 tensor named by its key, and the
 * file's metadata records where it sits in the full tensor ({@code key -> "begin,total"}). Files
 * are written and read a part at a time, so their size is bounded by memory for the slices only.
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
            writer.addFloats(e.getKey(), s.values());
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

    /** Bytes per read of a shard file: 1 MiB. */
    private static final int READ_PART = 1 << 20;

    /**
     * Checks that {@code file} exists and holds exactly {@code bytes} bytes whose CRC-32 is
     * {@code crc32}, streaming it once; the message names the file and what differs.
     */
    static void verify(FileSystem fs, Path file, long bytes, long crc32) throws IOException {
        if (!fs.exists(file)) {
            throw new IOException("checkpoint file " + file + " is missing");
        }
        long size = fs.getFileStatus(file).getLen();
        if (size != bytes) {
            throw new IOException("checkpoint file " + file + " has " + size + " bytes, the index says " + bytes);
        }
        CRC32 crc = new CRC32();
        try (InputStream in = fs.open(file)) {
            byte[] part = new byte[READ_PART];
            long read = 0;
            for (int n; (n = in.read(part)) > 0; ) {
                crc.update(part, 0, n);
                read += n;
            }
            if (read != size) {
                throw new IOException("checkpoint file " + file + " ended after " + read + " of its " + size + " bytes");
            }
        }
        if (crc.getValue() != crc32) {
            throw new IOException("checkpoint file " + file + " is corrupt: CRC-32 " + Long.toHexString(crc.getValue())
                    + ", the index says " + Long.toHexString(crc32));
        }
    }

    /**
     * Reads a whole shard file, checking its size and CRC-32 before parsing it: a first pass
     * streams the file through the checksum, a second reads the slices straight into their arrays.
     */
    static Map<String, Slice> read(FileSystem fs, Path file, long bytes, long crc32) throws IOException {
        verify(fs, file, bytes, crc32);
        long size = bytes;
        Map<String, Slice> out = new LinkedHashMap<>();
        try (SafeTensorsReader r = SafeTensorsReader.open(new StreamChannel(fs.open(file), size), size,
                file.toString())) {
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

    /** A read-only channel over an open file of a Hadoop FileSystem, seeking where asked. */
    private static final class StreamChannel implements SeekableByteChannel {
        private final FSDataInputStream in;
        private final long size;
        private final byte[] part = new byte[READ_PART];
        private long position;
        private boolean open = true;

        StreamChannel(FSDataInputStream in, long size) {
            this.in = in;
            this.size = size;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            if (position >= size) {
                return -1;
            }
            if (in.getPos() != position) {
                in.seek(position);
            }
            int n = in.read(part, 0, (int) Math.min(Math.min(part.length, dst.remaining()), size - position));
            if (n > 0) {
                dst.put(part, 0, n);
                position += n;
            }
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
            return size;
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
        public void close() throws IOException {
            open = false;
            in.close();
        }
    }
}
