package ai.omnispark.data.reader;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The order in which one rank reads the dataset in one epoch.
 *
 * <p>Every epoch, all record batches (blocks) of all shards are shuffled from (seed, epoch), and the
 * rows inside each block from (seed, epoch, block). Laid end to end they form one global order of
 * the N rows; rank r takes the contiguous slice [r·N/dp, (r+1)·N/dp). So every row goes to exactly
 * one rank, each rank reads only about 1/dp of the blocks (whole blocks, plus at most two shared
 * with its neighbours), and a rank's row count is the same every epoch, which keeps data-parallel
 * steps in lockstep. The plan is pure arithmetic over the manifest's row counts, so any rank
 * computes it without reading another rank's data.
 */
public final class EpochPlan {
    /** One record batch of {@code batchRows} rows to read; this rank takes the rows {@code order} (indices into the batch). */
    public record Block(int shard, int batch, int batchRows, int[] order) {}

    private final List<Block> blocks;
    private final long rows;

    private EpochPlan(List<Block> blocks) {
        this.blocks = blocks;
        long total = 0;
        for (Block b : blocks) {
            total += b.order().length;
        }
        this.rows = total;
    }

    public static EpochPlan of(long[] shardRows, int rowsPerBatch, long seed, long epoch, int dpRank, int dpSize) {
        if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
            throw new IllegalArgumentException("need 0 <= dpRank < dpSize, got dpRank=" + dpRank + " dpSize=" + dpSize);
        }
        List<int[]> all = new ArrayList<>();
        for (int s = 0; s < shardRows.length; s++) {
            long batches = (shardRows[s] + rowsPerBatch - 1) / rowsPerBatch;
            for (int b = 0; b < batches; b++) {
                int n = (int) Math.min(rowsPerBatch, shardRows[s] - (long) b * rowsPerBatch);
                all.add(new int[] {s, b, n});
            }
        }
        SplittableRandom epochRandom = new SplittableRandom(mix(seed, epoch, -1));
        for (int i = all.size() - 1; i > 0; i--) {
            int j = epochRandom.nextInt(i + 1);
            int[] t = all.get(i);
            all.set(i, all.get(j));
            all.set(j, t);
        }
        long total = 0;
        for (int[] b : all) {
            total += b[2];
        }
        long from = total * dpRank / dpSize;
        long to = total * (dpRank + 1) / dpSize;
        List<Block> mine = new ArrayList<>();
        long start = 0;
        for (int[] b : all) {
            long end = start + b[2];
            if (end > from && start < to) {
                long blockId = ((long) b[0] << 32) | b[1];
                int[] order = permutation(b[2], new SplittableRandom(mix(seed, epoch, blockId)));
                int lo = (int) (Math.max(from, start) - start);
                int hi = (int) (Math.min(to, end) - start);
                mine.add(new Block(b[0], b[1], b[2], java.util.Arrays.copyOfRange(order, lo, hi)));
            }
            start = end;
        }
        return new EpochPlan(mine);
    }

    public List<Block> blocks() {
        return blocks;
    }

    public long rows() {
        return rows;
    }

    private static int[] permutation(int n, SplittableRandom random) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    // SplitMix64 finaliser over the three inputs: neighbouring seeds and epochs give unrelated orders.
    private static long mix(long seed, long epoch, long block) {
        long h = seed;
        h = fmix(h ^ fmix(epoch + 0x9E3779B97F4A7C15L));
        h = fmix(h ^ fmix(block + 0xC2B2AE3D27D4EB4FL));
        return h;
    }

    private static long fmix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
