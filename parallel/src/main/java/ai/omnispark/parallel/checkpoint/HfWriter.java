package ai.omnispark.parallel.checkpoint;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Writes an already gathered HF folder into a checkpoint's {@code hf_ckpt/} (rank 0 only). */
@FunctionalInterface
public interface HfWriter {
    void write(FileSystem fs, Path dir) throws IOException;
}
