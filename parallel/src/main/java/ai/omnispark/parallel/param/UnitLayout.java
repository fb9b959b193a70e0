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

    public UnitLayout(String name, List<ParamSpec> params) {
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
            views.put(p.name(), slice.reshape(p.shape()));
        }
        return views;
    }

    /** The initial flat values of this unit, deterministic from {@code seed}. */
    public double[] initialValues(long seed) {
        double[] flat = new double[Math.toIntExact(numel)];
        for (ParamSpec p : params) {
            double[] values = new double[Math.toIntExact(p.numel())];
            p.init().fill(values, seed, p.name());
            System.arraycopy(values, 0, flat, Math.toIntExact(offsets.get(p.name())), values.length);
        }
        return flat;
    }

    /** 1 where weight decay applies, 0 elsewhere. */
    public float[] decayMask() {
        float[] mask = new float[Math.toIntExact(numel)];
        for (ParamSpec p : params) {
            if (p.decay()) {
                int start = Math.toIntExact(offsets.get(p.name()));
                java.util.Arrays.fill(mask, start, start + Math.toIntExact(p.numel()), 1f);
            }
        }
        return mask;
    }

    /** Whether any parameter of this unit is frozen (gets no update). */
    public boolean hasFrozen() {
        return params.stream().anyMatch(p -> !p.trainable());
    }

    public static List<String> names(List<UnitLayout> units) {
        List<String> names = new ArrayList<>();
        for (UnitLayout u : units) {
            names.add(u.name());
        }
        return names;
    }
}
