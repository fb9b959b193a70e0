package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/** What a segment sees while it runs: the parameter views of its units and the batch. */
public final class SegmentCall {
    private final String segment;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final Batch batch;

    SegmentCall(String segment, NDManager manager, Map<String, NDArray> params, Batch batch) {
        this.segment = segment;
        this.manager = manager;
        this.params = params;
        this.batch = batch;
    }

    /** The manager that owns every array of this micro-batch. */
    public NDManager manager() {
        return manager;
    }

    public NDArray param(String name) {
        NDArray view = params.get(name);
        if (view == null) {
            throw new IllegalStateException("segment " + segment + " reads parameter " + name
                    + ", which none of its units holds");
        }
        return view;
    }

    public boolean hasParam(String name) {
        return params.containsKey(name);
    }

    /** The same parameters and batch with arrays made in {@code other}. */
    SegmentCall in(NDManager other) {
        return new SegmentCall(segment, other, params, batch);
    }

    /**
     * Lends this call's parameter views and batch arrays to {@code other} until it closes: DJL puts an
     * op's result in its first operand's manager, so what a segment makes from a weight or a batch
     * array (an embedding lookup, a loss over the labels) then belongs to {@code other} as well.
     */
    void lendArraysTo(NDManager other) {
        for (NDArray view : params.values()) {
            view.tempAttach(other);
        }
        for (String key : batch.keys()) {
            batch.get(key).tempAttach(other);
        }
    }

    public Batch batch() {
        return batch;
    }
}
