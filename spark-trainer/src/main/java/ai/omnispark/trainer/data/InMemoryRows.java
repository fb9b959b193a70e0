package ai.omnispark.trainer.data;

import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Rows held in memory, shuffled per epoch from the seed; data-parallel rank r of n takes every n-th
 * row of the shuffled order. The tail that does not divide evenly is dropped each epoch so every
 * rank runs the same number of steps. Packed rows come out as {@link ai.omnispark.models.api.SampleLayout#TOKENS}
 * samples; {@link #ofSamples} holds samples of any layout (e.g. a diffusion family's latent rows) as given.
 */
public final class InMemoryRows implements RowSource {
    private final List<Sample> rows;
    private final long seed;
    private final int dpRank;
    private final int dpSize;
    private int perRank;
    private int epoch;
    private int index;
    private int[] order;

    public InMemoryRows(List<PackedRow> rows, long seed, int dpRank, int dpSize) {
        this(seed, dpRank, dpSize, rows.stream().map(PackedRow::sample).toList());
    }

    /** Samples held as they are, in the same order and rank split as packed rows. */
    public static InMemoryRows ofSamples(List<Sample> rows, long seed, int dpRank, int dpSize) {
        return new InMemoryRows(seed, dpRank, dpSize, List.copyOf(rows));
    }

    private InMemoryRows(long seed, int dpRank, int dpSize, List<Sample> rows) {
        if (dpSize < 1 || dpRank < 0 || dpRank >= dpSize) {
            throw new IllegalArgumentException("data-parallel rank " + dpRank + " of " + dpSize + " is invalid");
        }
        if (rows.size() < dpSize) {
            throw new IllegalArgumentException("the data packs into " + rows.size()
                    + " rows, fewer than the " + dpSize + " data-parallel ranks");
        }
        this.rows = rows;
        this.seed = seed;
        this.dpRank = dpRank;
        this.dpSize = dpSize;
        this.perRank = rows.size() / dpSize;
        this.order = permutation(0);
    }

    private int[] permutation(int e) {
        int[] p = new int[rows.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + e);
        for (int i = p.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    @Override
    public List<Sample> next(int count) {
        List<Sample> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            if (index == perRank) {
                epoch++;
                index = 0;
                order = permutation(epoch);
            }
            out.add(rows.get(order[index * dpSize + dpRank]));
            index++;
        }
        return out;
    }

    @Override
    public long rowsPerEpoch() {
        return perRank;
    }

    @Override
    public void limitRowsPerEpoch(long limit) {
        if (limit < 1 || limit > perRank) {
            throw new IllegalArgumentException("an epoch limit of " + limit + " rows does not fit the " + perRank
                    + " rows this rank holds");
        }
        if (index > limit) {
            throw new IllegalStateException("cannot limit an epoch to " + limit + " rows after reading " + index);
        }
        perRank = (int) limit;
    }

    @Override
    public long[] cursor() {
        return new long[] {epoch, index};
    }

    @Override
    public void seek(long[] cursor) {
        if (cursor.length != 2 || cursor[1] < 0 || cursor[1] > perRank || cursor[0] < 0) {
            throw new IllegalArgumentException("data cursor " + java.util.Arrays.toString(cursor)
                    + " does not fit " + perRank + " rows per epoch");
        }
        epoch = (int) cursor[0];
        index = (int) cursor[1];
        order = permutation(epoch);
    }
}
