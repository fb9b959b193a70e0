package ai.omnispark.data.pipeline;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Fetches the bytes of a media reference through the Hadoop FileSystem (local, HDFS, S3A). */
final class MediaLoader {
    private final Configuration conf;
    private final long maxBytes;

    /** {@code maxBytes}: the most bytes one medium may have ({@code data.max_media_bytes}). */
    MediaLoader(Configuration conf, long maxBytes) {
        this.conf = conf;
        this.maxBytes = maxBytes;
    }

    /**
     * The bytes of {@code ref}; a relative path is resolved against the directory of
     * {@code sourceFile} (the input file the record came from), as datasets ship media beside it.
     * A medium over {@code data.max_media_bytes} is rejected before it is read.
     */
    byte[] load(MediaRef ref, String sourceFile) throws SampleRejected {
        if (ref.bytes() != null) {
            checkSize("the inline medium", ref.bytes().length);
            return ref.bytes();
        }
        Path path = resolve(ref.path(), sourceFile);
        try {
            FileSystem fs = path.getFileSystem(conf);
            checkSize(path.toString(), fs.getFileStatus(path).getLen());
            try (InputStream in = fs.open(path)) {
                // The file may have grown since its length was read: never read past the cap.
                byte[] bytes = in.readNBytes((int) maxBytes);
                if (in.read() >= 0) {
                    throw new SampleRejected(RejectReason.MEDIA_TOO_LARGE, path + " grew past data.max_media_bytes="
                            + maxBytes + " while it was read");
                }
                return bytes;
            }
        } catch (FileNotFoundException e) {
            throw new SampleRejected(RejectReason.MISSING_FILE, "no file at " + path);
        } catch (IOException | RuntimeException e) {
            throw new SampleRejected(RejectReason.MISSING_FILE, "cannot read " + path + ": " + e.getMessage());
        }
    }

    /** {@code path}, or when it is relative, the file of that name beside {@code sourceFile}. */
    static Path resolve(String path, String sourceFile) {
        Path p = new Path(path);
        if (!p.isAbsolute() && p.toUri().getScheme() == null && sourceFile != null && !sourceFile.isEmpty()) {
            p = new Path(new Path(URI.create(sourceFile)).getParent(), path);
        }
        return p;
    }

    private void checkSize(String what, long bytes) throws SampleRejected {
        if (bytes > maxBytes) {
            throw new SampleRejected(RejectReason.MEDIA_TOO_LARGE, what + " of " + bytes
                    + " bytes is over data.max_media_bytes=" + maxBytes);
        }
    }
}
