package ai.omnispark.data.pipeline;

import ai.omnispark.data.arrow.ShardInfo;
import java.io.Serializable;
import java.util.Map;

/**
 * What one partition's task produced, sent back to the driver for the manifest.
 *
 * @param shard the written shard, or null when no record of the partition survived
 */
public record PartitionStats(int partition, ShardInfo shard, long inputRecords, Map<String, Long> rejectedByReason)
        implements Serializable {}
