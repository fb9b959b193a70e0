package ai.omnispark.parallel.checkpoint;

import org.apache.hadoop.fs.Path;

/**
 * Names of the checkpoint layout VeOmni's users know:
 * <pre>
 * ROOT/global_step_N/{model,optimizer,extra_state,hf_ckpt}/
 * ROOT/latest_checkpointed_iteration.txt
 * </pre>
 * A save is written under {@code ROOT/.tmp_global_step_N} and committed by one rename.
 */
public final class CheckpointPaths {
    public static final String LATEST = "latest_checkpointed_iteration.txt";
    public static final String MODEL = "model";
    public static final String OPTIMIZER = "optimizer";
    public static final String EXTRA_STATE = "extra_state";
    public static final String HF = "hf_ckpt";
    public static final String INDEX = "index.json";
    static final String STEP_PREFIX = "global_step_";
    static final String TMP_PREFIX = ".tmp_" + STEP_PREFIX;

    private CheckpointPaths() {}

    public static Path step(Path root, long step) {
        return new Path(root, STEP_PREFIX + step);
    }

    static Path tmp(Path root, long step) {
        return new Path(root, TMP_PREFIX + step);
    }

    public static Path latest(Path root) {
        return new Path(root, LATEST);
    }

    static String shardFile(int rank, int world) {
        return String.format("shard-%05d-of-%05d.safetensors", rank, world);
    }

    static String extraStateFile(int rank) {
        return "extra_state_rank_" + rank + ".json";
    }

    /** The step of a {@code global_step_N} directory name, or -1 if it is not one. */
    public static long stepOf(String name) {
        if (!name.startsWith(STEP_PREFIX)) {
            return -1;
        }
        try {
            return Long.parseLong(name.substring(STEP_PREFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
