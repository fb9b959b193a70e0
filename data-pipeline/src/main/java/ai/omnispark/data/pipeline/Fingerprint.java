package ai.omnispark.data.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * A SHA-256 over what determines a prepared dataset: the pipeline version, the preprocessing
 * settings, the tokenizer, and each input file's path, size and modification time. Media files
 * referenced by path are not listed (that would mean touching every one); a changed image under
 * the same name needs a new output path or a deleted manifest.
 */
final class Fingerprint {
    /**
     * Bump when the shard layout or preprocessing changes, so old datasets are rebuilt. 2: HF
     * tokenizers no longer truncate documents at 512 tokens.
     */
    static final String PIPELINE_VERSION = "omnispark-prepare-2";

    private Fingerprint() {}

    /** {@code inputs}: the input files' descriptions and the tokenizer's (see {@link TokenizerLoader#describe}). */
    static String of(PrepareConfig config, List<String> inputs) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            update(digest, PIPELINE_VERSION);
            update(digest, new ObjectMapper().writeValueAsString(config.describe()));
            for (String input : inputs) {
                update(digest, input);
            }
            return "sha256:" + HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException | IOException e) {
            throw new IllegalStateException("cannot fingerprint the prepare config", e);
        }
    }

    /** {@code path|length|mtime} of every visible file under {@code input}, sorted. */
    static List<String> listInputs(String input, Configuration conf) throws IOException {
        Path root = new Path(input);
        FileSystem fs = root.getFileSystem(conf);
        List<String> files = new ArrayList<>();
        FileStatus[] matches = fs.globStatus(root);
        if (matches == null || matches.length == 0) {
            throw new IOException("data.train_path " + input + " matches no file");
        }
        for (FileStatus match : matches) {
            if (match.isFile()) {
                files.add(describe(match));
                continue;
            }
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(match.getPath(), true);
            while (it.hasNext()) {
                LocatedFileStatus status = it.next();
                String name = status.getPath().getName();
                if (!name.startsWith("_") && !name.startsWith(".")) {
                    files.add(describe(status));
                }
            }
        }
        files.sort(null);
        return files;
    }

    private static String describe(FileStatus status) {
        return status.getPath() + "|" + status.getLen() + "|" + status.getModificationTime();
    }

    private static void update(MessageDigest digest, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        digest.update(Integer.toString(bytes.length).getBytes(StandardCharsets.UTF_8));
        digest.update((byte) ':');
        digest.update(bytes);
    }
}
