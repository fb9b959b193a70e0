package ai.omnispark.data.arrow;

import java.io.Serializable;

/**
 * What one written shard holds. {@code path} is relative to the dataset directory so a dataset
 * can be moved or copied (local to S3) without rewriting its manifest.
 *
 * @param checksum {@code "sha256:<hex>"} of the file's bytes
 */
public record ShardInfo(String path, long rows, long documents, long tokens, long images, long videos,
        long frames, long bytes, String checksum) implements Serializable {}
