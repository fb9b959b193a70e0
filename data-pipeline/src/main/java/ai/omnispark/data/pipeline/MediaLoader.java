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

    MediaLoader(Configuration conf) {
        this.conf = conf;
    }

    /**
     * The bytes of {@code ref}; a relative path is resolved against the directory of
     * {@code sourceFile} (the input file the record came from), as datasets ship media beside it.
     */
    byte[] load(MediaRef ref, String sourceFile) throws SampleRejected {
        if (ref.bytes() != null) {
            return ref.bytes();
        }
        Path path = new Path(ref.path());
        if (!path.isAbsolute() && path.toUri().getScheme() == null && sourceFile != null && !sourceFile.isEmpty()) {
            path = new Path(new Path(URI.create(sourceFile)).getParent(), ref.path());
        }
        try {
            FileSystem fs = path.getFileSystem(conf);
            try (InputStream in = fs.open(path)) {
                return in.readAllBytes();
            }
        } catch (FileNotFoundException e) {
            throw new SampleRejected(RejectReason.MISSING_FILE, "no file at " + path);
        } catch (IOException | RuntimeException e) {
            throw new SampleRejected(RejectReason.MISSING_FILE, "cannot read " + path + ": " + e.getMessage());
        }
    }
}
