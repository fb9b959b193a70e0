package ai.omnispark.parallel.param;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parameter unit's layout: named parameters laid end to end in one flat tensor. One transformer
 * block is one unit, so sharding or gathering a block is sharding or gathering one tensor.
 */
public final class UnitLayout {
    private final String name;
    private final List<ParamSpec> params;
    private final Map<String, Long> offsets;
    private final long numel;
    private final Partition partition;

    /**
     * The unit is part {@code index} of {@code count} equal parts of something split across mesh
     * dimension {@code dim} (e.g. expert {@code index} of a layer's {@code count} experts across the
     * expert-parallel dim): with that dimension of size n ({@code count} divisible by n), only the
     * ranks whose coordinate on it is {@code index / (count / n)} hold the unit. Checkpoints and
     * exports still see every unit, so they do not depend on n.
     */
    public record Partition(String dim, int index, int count) {
        public Partition {
            if (dim == null || dim.isEmpty() || count < 1 || index < 0 || index >= count) {
                throw new IllegalArgumentException("invalid partition: part " + index + " of " + count + " across '"
                        + dim + "'");
            }
        }

        /** The coordinate along {@link #dim} that holds this part when the dimension has {@code size} ranks. */
        public int holder(int size) {
            if (size < 1 || count % size != 0) {
                throw new IllegalArgumentException(count + " parts across mesh dim " + dim + " cannot be split over "
                        + size + " ranks: " + dim + " must divide " + count);
            }
            return index / (count / size);
        }
    }

    public UnitLayout(String name, List<ParamSpec> params) {
        this(name, params, null);
    }

    /** @param partition where the unit is split across a mesh dimension; null: every rank holds (its shard of) it */
    public UnitLayout(String name, List<ParamSpec> params, Partition partition) {
        if (params.isEmpty()) {
            throw new IllegalArgumentException("unit " + name + " has no parameters");
        }
        this.name = name;
        this.params = List.copyOf(params);
        Map<String, Long> offs = new LinkedHashMap<>();
        long offset = 0;
        for (ParamSpec p : params) {
            if (offs.put(p.name(), offset) != null) {
                throw new IllegalArgumentException("unit " + name + " lists parameter " + p.name() + " twice");
            }
            offset += p.numel();
        }
        this.offsets = Collections.unmodifiableMap(offs);
        this.numel = offset;
        this.partition = partition;
    }

    /** Where the unit is split across a mesh dimension, or null. */
    public Partition partition() {
        return partition;
    }

    public String name() {
        return name;
    }

    public List<ParamSpec> params() {
        return params;
    }

    public long numel() {
        return numel;
    }

    public long offset(String param) {
        Long offset = offsets.get(param);
        if (offset == null) {
            throw new IllegalArgumentException("unit " + name + " has no parameter " + param);
        }
        return offset;
    }

    public ParamSpec spec(String param) {
        for (ParamSpec p : params) {
            if (p.name().equals(param)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unit " + name + " has no parameter " + param);
    }

    /**
     * Views of every parameter over {@code flat}, a tensor of this layout. Views share storage with
     * {@code flat}, so gradients of the views land in the flat tensor's gradient.
     */
    public Map<String, NDArray> views(NDArray flat) {
        if (flat.size() != numel) {
            throw new IllegalArgumentException("unit " + name + " needs a flat tensor of " + numel
                    + " elements, got " + flat.getShape());
        }
        Map<String, NDArray> views = new LinkedHashMap<>();
        for (ParamSpec p : params) {
            long start = offsets.get(p.name());
            NDArray slice = flat.get(new NDIndex("{}:{}", start, start + p.numel()));
            NDArray view = slice.reshape(p.shape());
            if (view != slice) {
                slice.close(); // the view holds the storage and the autograd link; the slice's handle is spare
            }
            views.put(p.name(), view);
        }
        return views;
    }

    /** Receives a unit's initial values a part at a time. */
    @FunctionalInterface
    public interface ChunkSink {
        /** {@code values[0, length)} are elements {@code [offset, offset + length)} of the flat unit. */
        void accept(long offset, float[] values, int length);
    }

    /**
     * The initial flat values of this unit, deterministic from {@code seed}, in order and at most
     * {@code chunk} at a time: computed in float64 and rounded to float32, without ever holding the
     * whole unit in Java memory. {@code values} is reused between calls.
     */
    public void initialValues(long seed, int chunk, ChunkSink sink) {
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be positive, got " + chunk);
        }
        double[] wide = new double[(int) Math.min(chunk, numel)];
        float[] narrow = new float[wide.length];
        for (ParamSpec p : params) {
            Init.Values values = p.init().values(seed, p.name());
            long start = offsets.get(p.name());
            for (long done = 0; done < p.numel(); ) {
                int n = (int) Math.min(wide.length, p.numel() - done);
                values.next(wide, n);
                for (int i = 0; i < n; i++) {
                    narrow[i] = (float) wide[i];
                }
                sink.accept(start + done, narrow, n);
                done += n;
            }
        }
    }

    /** The element ranges {@code [begin, end)} of the flat unit where weight decay applies, ascending. */
    public List<long[]> decayRanges() {
        List<long[]> ranges = new ArrayList<>();
        for (ParamSpec p : params) {
            if (p.decay()) {
                long start = offsets.get(p.name());
                ranges.add(new long[] {start, start + p.numel()});
            }
        }
        return ranges;
    }

    /** Whether every parameter of this unit is frozen: it takes no gradient and no optimizer state. */
    public boolean frozen() {
        return params.stream().noneMatch(ParamSpec::trainable);
    }

    public static List<String> names(List<UnitLayout> units) {
        List<String> names = new ArrayList<>();
        for (UnitLayout u : units) {
            names.add(u.name());
        }
        return names;
    }
}
