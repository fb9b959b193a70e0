package ai.omnispark.data.reader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A read-only {@link SeekableByteChannel} over a Hadoop input stream, which is what Arrow's file
 * reader needs for random access to record batches on HDFS or S3A.
 */
public final class HadoopSeekableChannel implements SeekableByteChannel {
    private final FSDataInputStream in;
    private final long size;
    private final byte[] chunk = new byte[1 << 16];
    private boolean open = true;

    private HadoopSeekableChannel(FSDataInputStream in, long size) {
        this.in = in;
        this.size = size;
    }

    /** Local files go straight through a {@link FileChannel}: no Hadoop checksumming, no extra copy. */
    public static SeekableByteChannel open(FileSystem fs, Path path) throws IOException {
        Path qualified = fs.makeQualified(path);
        if ("file".equals(qualified.toUri().getScheme())) {
            return FileChannel.open(Paths.get(qualified.toUri()), StandardOpenOption.READ);
        }
        return viaHadoop(fs, qualified);
    }

    /** Always through the Hadoop stream, as for HDFS or S3A (tests use it on local files). */
    static SeekableByteChannel viaHadoop(FileSystem fs, Path path) throws IOException {
        long size = fs.getFileStatus(path).getLen();
        return new HadoopSeekableChannel(fs.open(path), size);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        long pos = in.getPos();
        if (pos >= size) {
            return -1;
        }
        int want = (int) Math.min(dst.remaining(), size - pos);
        int total = 0;
        while (total < want) {
            int n = in.read(chunk, 0, Math.min(chunk.length, want - total));
            if (n < 0) {
                break;
            }
            dst.put(chunk, 0, n);
            total += n;
        }
        return total == 0 && want > 0 ? -1 : total;
    }

    @Override
    public int write(ByteBuffer src) {
        throw new NonWritableChannelException();
    }

    @Override
    public long position() throws IOException {
        return in.getPos();
    }

    @Override
    public SeekableByteChannel position(long newPosition) throws IOException {
        in.seek(newPosition);
        return this;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public SeekableByteChannel truncate(long s) {
        throw new NonWritableChannelException();
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
