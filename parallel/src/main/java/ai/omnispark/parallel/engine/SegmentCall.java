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

    public Batch batch() {
        return batch;
    }
}
