package ai.omnispark.models.nn.ulysses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.models.nn.TokenBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * A family's collator under Ulysses: the rows of the micro-batch (the same on every rank of the sp
 * group) are padded to a multiple of P tokens, collated whole, and each batch input is cut to what
 * sp rank r reads: tokens chunk r of every row ([r S/P, (r+1) S/P) of the padded length S), head
 * chunk r of an attention-dropout mask, or the whole input (the doc ids, which attention over the
 * whole rows needs, and scalars).
 *
 * <p>Padding is what the packer's padding is: token id 0, label ignored (no loss), position 0 and
 * document -1 (no real token attends to it, and the MoE statistics skip it). Positions stay those of
 * the whole row, so each rank's rotary tables are the slice of the one-rank tables. Collating whole
 * rows on every rank also draws every random mask the one-rank collator draws, so all ranks of a
 * group agree on them when they share one generator.
 */
public final class SequenceShards implements Collator {
    /** How a batch input is cut for one sp rank. */
    public record Split(Kind kind, int axis) {
        public enum Kind { TOKENS, FLAT_TOKENS, HEADS, WHOLE }

        /** Axis {@code axis} runs over the (padded) tokens of a row, e.g. input ids [rows, S]. */
        public static Split tokens(int axis) {
            return new Split(Kind.TOKENS, axis);
        }

        /** The first axis runs over rows x tokens, row-major, e.g. labels [rows * S]. */
        public static Split flatTokens() {
            return new Split(Kind.FLAT_TOKENS, 0);
        }

        /** Axis {@code axis} runs over the attention heads, e.g. a dropout mask [rows, H, S, S]. */
        public static Split heads(int axis) {
            return new Split(Kind.HEADS, axis);
        }

        /** Every rank reads all of it (doc ids, scalars). */
        public static Split whole() {
            return new Split(Kind.WHOLE, 0);
        }
    }

    private final Collator rows;
    private final int rank;
    private final int size;
    private final Function<String, Split> splitOf;
    private final ToIntFunction<Sample> tokensOf;

    /**
     * @param rows the family's collator of whole rows
     * @param rank this rank's index in the sp group
     * @param size the sp group's size P
     * @param splitOf how each batch input the family's collator writes is cut; null for an input the
     *     family did not expect to see under Ulysses (collating then fails, naming it)
     */
    public SequenceShards(Collator rows, int rank, int size, Function<String, Split> splitOf) {
        this(rows, rank, size, splitOf, Sample::length);
    }

    /**
     * As {@link #SequenceShards(Collator, int, int, Function)}, for rows whose tokens are not their
     * {@link Sample#length}: {@code tokensOf} gives the tokens of a row (the video tokens after
     * patchifying, say). Such rows are not padded: their token count must be a multiple of P
     * ({@code tokensOf} refuses it otherwise, naming the rule).
     */
    public SequenceShards(Collator rows, int rank, int size, Function<String, Split> splitOf,
            ToIntFunction<Sample> tokensOf) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("sp rank " + rank + " of " + size);
        }
        this.rows = rows;
        this.rank = rank;
        this.size = size;
        this.splitOf = splitOf;
        this.tokensOf = tokensOf;
    }

    /** The cut of the inputs {@link TokenBatch} writes; null for any other. */
    public static Split tokenBatch(String key) {
        if (TokenBatch.isAttentionDropoutMask(key)) {
            return Split.heads(1);
        }
        return switch (key) {
            case TokenBatch.INPUT_IDS -> Split.tokens(1);
            case TokenBatch.LABELS, TokenBatch.LABEL_MASK -> Split.flatTokens();
            case TokenBatch.COS, TokenBatch.SIN -> Split.tokens(2);
            case TokenBatch.DOC_IDS -> Split.whole();
            default -> null;
        };
    }

    /** {@code length} rounded up to a multiple of {@code p}. */
    public static int paddedLength(int length, int p) {
        return (length + p - 1) / p * p;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("a micro-batch needs at least one sample");
        }
        int length = tokensOf.applyAsInt(samples.get(0));
        int padded = paddedLength(length, size);
        List<Sample> whole = padded == length ? samples : pad(samples, padded);
        Batch full = rows.collate(scope, whole, dtype, random);
        Batch local = new Batch();
        for (String key : full.keys()) {
            Split split = splitOf.apply(key);
            if (split == null) {
                throw new IllegalStateException("the batch input '" + key + "' has no sequence-parallel split: the "
                        + "family's Ulysses plan does not say how sp ranks share it");
            }
            NDArray array = full.get(key);
            NDArray cut = cut(array, split, whole.size(), padded, key);
            if (cut != array) {
                array.close();
            }
            local.put(key, cut);
        }
        return local;
    }

    private NDArray cut(NDArray array, Split split, int rowCount, int padded, String key) {
        Shape shape = array.getShape();
        switch (split.kind()) {
            case WHOLE:
                return array;
            case FLAT_TOKENS: {
                if (shape.dimension() < 1 || shape.get(0) != (long) rowCount * padded) {
                    throw new IllegalStateException("batch input '" + key + "' of shape " + shape + " should start with "
                            + rowCount + " rows x " + padded + " tokens");
                }
                long[] byRow = new long[shape.dimension() + 1];
                byRow[0] = rowCount;
                byRow[1] = padded;
                System.arraycopy(shape.getShape(), 1, byRow, 2, shape.dimension() - 1);
                long chunk = padded / size;
                NDArray local = narrow(array.reshape(byRow), 1, rank * chunk, chunk);
                long[] flat = Arrays.copyOfRange(byRow, 1, byRow.length);
                flat[0] = rowCount * chunk;
                return local.reshape(flat);
            }
            case TOKENS:
                return narrow(array, split.axis(), (long) rank * (padded / size), padded / size, padded, key);
            case HEADS: {
                long heads = shape.get(split.axis());
                if (heads % size != 0) {
                    throw new IllegalStateException("batch input '" + key + "' has " + heads + " heads, not a multiple "
                            + "of the " + size + " sp ranks");
                }
                return narrow(array, split.axis(), rank * (heads / size), heads / size);
            }
            default:
                throw new IllegalStateException("unknown split " + split);
        }
    }

    private NDArray narrow(NDArray array, int axis, long start, long count, long expected, String key) {
        if (array.getShape().dimension() <= axis || array.getShape().get(axis) != expected) {
            throw new IllegalStateException("batch input '" + key + "' of shape " + array.getShape() + " should have "
                    + expected + " tokens on axis " + axis);
        }
        return narrow(array, axis, start, count);
    }

    /** A copy of {@code count} entries from {@code start} on {@code axis}, owning its memory. */
    private static NDArray narrow(NDArray array, int axis, long start, long count) {
        NDIndex index = new NDIndex(":, ".repeat(axis) + "{}:{}", start, start + count);
        try (NDArray view = array.get(index)) {
            return view.duplicate();
        }
    }

    /** Each row padded at its end to {@code length} positions that take no loss and no attention. */
    private static List<Sample> pad(List<Sample> samples, int length) {
        List<Sample> padded = new ArrayList<>(samples.size());
        for (Sample s : samples) {
            if (s.layout() != SampleLayout.TOKENS) {
                throw new IllegalArgumentException("Ulysses pads token rows, got a " + s.layout().key() + " sample");
            }
            padded.add(Sample.tokens(padTo(s.ints(Sample.INPUT_IDS), length, 0),
                    padTo(s.ints(Sample.LABELS), length, Sample.IGNORE), padTo(s.ints(Sample.POSITION_IDS), length, 0),
                    padTo(s.ints(Sample.DOC_IDS), length, -1)));
        }
        return padded;
    }

    private static int[] padTo(int[] column, int length, int fill) {
        int[] out = Arrays.copyOf(column, length);
        Arrays.fill(out, column.length, length, fill);
        return out;
    }
}
