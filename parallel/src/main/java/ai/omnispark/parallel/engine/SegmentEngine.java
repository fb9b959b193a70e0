package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.profile.Span;
import ai.omnispark.parallel.profile.Tracer;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.NativeHeap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a model given as a list of segments: forward segment by segment with detached boundaries,
 * then backward segment by segment in reverse, each either from kept activations or by recomputing
 * the segment's forward first.
 *
 * <p>Detaching at every boundary bounds each backward call to one segment, which is what lets a
 * boundary host communication with a hand-written backward ({@link ManualSegment}) and lets
 * parameters be fetched and their gradients handed off unit by unit ({@link UnitParams}).
 */
public final class SegmentEngine {
    private final List<Segment> segments;
    private final Map<String, UnitLayout> layouts;
    private final Recompute recompute;
    private final Tracer tracer;
    /** For each unit: the first and last segment index that reads it. */
    private final Map<String, int[]> useRange = new HashMap<>();
    private boolean trackActivations;
    private boolean trimAfterForward;
    /** Of the last {@link #forwardBackward} when tracking: bytes each segment's forward left live for backward. */
    private final Map<String, Long> keptBySegment = new java.util.LinkedHashMap<>();
    private long keptBytes = -1;

    public SegmentEngine(List<Segment> segments, List<UnitLayout> units, Recompute recompute) {
        this(segments, units, recompute, Tracer.NONE);
    }

    /** @param tracer times forward, backward, each segment in them, recomputes and parameter fetches */
    public SegmentEngine(List<Segment> segments, List<UnitLayout> units, Recompute recompute, Tracer tracer) {
        this.tracer = tracer;
        if (segments.isEmpty()) {
            throw new IllegalArgumentException("a model needs at least one segment");
        }
        this.segments = List.copyOf(segments);
        this.recompute = recompute;
        this.layouts = new HashMap<>();
        for (UnitLayout u : units) {
            layouts.put(u.name(), u);
        }
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            for (String unit : s.units()) {
                if (!layouts.containsKey(unit)) {
                    throw new IllegalArgumentException("segment " + s.name() + " reads unknown unit " + unit);
                }
                if (s instanceof ManualSegment) {
                    throw new IllegalArgumentException("manual segment " + s.name() + " may not read parameters");
                }
                int index = i;
                useRange.merge(unit, new int[] {i, i}, (a, b) -> new int[] {a[0], index});
            }
        }
    }

    public List<Segment> segments() {
        return segments;
    }

    /**
     * Whether {@link #forwardBackward} reads the live C-heap bytes ({@link NativeHeap}, where libtorch
     * allocates) around each segment's forward: what the micro-batch keeps for its backward, whole
     * ({@link #keptBytes}) and per segment ({@link #keptBySegment}). The heap is the process's, so
     * other threads' allocations in between count too (ranks that are threads of one JVM).
     */
    public void trackActivations(boolean on) {
        if (on && !NativeHeap.available()) {
            throw new IllegalStateException("activation tracking reads glibc's mallinfo2, which this system lacks "
                    + "(glibc 2.33 or later on Linux is needed)");
        }
        this.trackActivations = on;
    }

    /**
     * Whether {@link #forwardBackward} gives the C heap's free memory back to the system between forward
     * and backward ({@link NativeHeap#trim}). The forward's freed intermediates leave holes between the
     * activations it keeps; glibc keeps them resident, and the backward, whose gradients are other
     * sizes, reuses them only in part, so the resident peak exceeds the live peak by the holes.
     */
    public void trimAfterForward(boolean on) {
        this.trimAfterForward = on;
    }

    /** Bytes the last tracked micro-batch's forward left live until its backward began; -1 before one ran. */
    public long keptBytes() {
        return keptBytes;
    }

    /** Whether {@link #forwardBackward} measures {@link #keptBytes}. */
    public boolean tracksActivations() {
        return trackActivations;
    }

    /** Of the last tracked micro-batch, per segment name, the bytes its forward left live (in run order). */
    public Map<String, Long> keptBySegment() {
        return Map.copyOf(keptBySegment);
    }

    /** Forward only, recording nothing: for evaluation and scoring. Outputs belong to {@code scope}. */
    public NDList forward(NDManager scope, Batch batch, NDList inputs, UnitParams params) {
        return forward(scope, batch, inputs, params, null);
    }

    /** Sees each segment's call and inputs before it runs in {@link #forward}; it may record and measure on its own. */
    public interface Probe {
        void before(int index, Segment segment, SegmentCall call, NDList inputs);
    }

    /** {@link #forward} with {@code probe} (or null) shown every segment before it runs. */
    public NDList forward(NDManager scope, Batch batch, NDList inputs, UnitParams params, Probe probe) {
        boolean previous = Autograd.setGradMode(false);
        try {
            NDList x = inputs;
            Map<String, Acquired> full = new HashMap<>();
            for (int i = 0; i < segments.size(); i++) {
                Segment s = segments.get(i);
                prefetchNext(i, params);
                // A probe records on the call's parameters (StepCalibration): they are leaves that
                // take gradients, as in forwardBackward, so autograd saves there what only the
                // weights' gradients need (e.g. a norm's x / rms).
                SegmentCall c = call(s, scope, batch, full, params);
                if (probe != null) {
                    probe.before(i, s, c, x);
                    Autograd.setGradMode(false);
                }
                // As in forwardBackward, what the segment makes and does not return is freed when it
                // returns, not when the caller's scope closes: an evaluation at 8192 tokens held every
                // layer's intermediates at once (6.3 GB against 2.3 GB for a training step).
                try (NDManager temps = s instanceof ManualSegment ? null : intermediates(scope, x)) {
                    NDList out = s.forward(c, x);
                    keep(out, x, temps, scope);
                    keepBatch(batch, temps, scope);
                    x = out;
                }
                for (String unit : s.units()) {
                    if (useRange.get(unit)[1] == i) {
                        full.remove(unit).close();
                        params.release(unit);
                    }
                }
            }
            return x;
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    /**
     * Forward and backward of one micro-batch. Gradients of every unit go to
     * {@link UnitParams#accumulateGrad}.
     *
     * @param seeds the gradient of each final output (null entries take none)
     * @return the final outputs, detached
     */
    public NDList forwardBackward(NDManager scope, Batch batch, NDList inputs, NDList seeds, UnitParams params) {
        int n = segments.size();
        boolean previous = Autograd.setGradMode(false);
        try {
            NDList[] segmentInputs = new NDList[n];
            NDList[] keptOutputs = new NDList[n];
            boolean[] recomputed = new boolean[n];
            Map<String, Acquired> leaves = new HashMap<>();
            NDList x = inputs;
            Span forward = tracer.span("forward", "engine");
            keptBySegment.clear();
            for (int i = 0; i < n; i++) {
                Segment s = segments.get(i);
                Span segment = tracer.span(s.name(), "forward");
                long segmentStart = trackActivations ? NativeHeap.liveBytes() : 0;
                prefetchNext(i, params);
                NDList in = boundaryLeaves(x);
                segmentInputs[i] = in;
                boolean manual = s instanceof ManualSegment;
                recomputed[i] = !manual && recompute.recompute(i, s);
                boolean record = !manual && !recomputed[i];
                NDList out;
                try (NDManager temps = manual ? null : intermediates(scope, in)) {
                    Autograd.setGradMode(record);
                    out = s.forward(call(s, scope, batch, leaves, params), in);
                    Autograd.setGradMode(false);
                    keep(out, in, temps, scope);
                }
                if (record) {
                    keptOutputs[i] = out;
                }
                for (String unit : s.units()) {
                    if (useRange.get(unit)[1] == i && !unitKeepsGraph(unit, recomputed)) {
                        leaves.remove(unit).close();
                        params.release(unit);
                    }
                }
                x = detached(out);
                if (trackActivations) {
                    // A segment keeps at least nothing: a reading below zero is another thread's free
                    // (a loader's buffers, the JIT's arenas, another rank thread) inside the window.
                    keptBySegment.merge(s.name(), Math.max(0, NativeHeap.liveBytes() - segmentStart), Long::sum);
                }
                segment.close();
            }
            if (trackActivations) {
                keptBytes = keptBySegment.values().stream().mapToLong(Long::longValue).sum();
            }
            forward.close();
            if (trimAfterForward) {
                try (Span t = tracer.span("trim", "engine")) {
                    NativeHeap.trim();
                }
            }
            NDList finalOutputs = x;
            NDList grads = seeds;
            Span backward = tracer.span("backward", "engine");
            for (int i = n - 1; i >= 0; i--) {
                Segment s = segments.get(i);
                Span segment = tracer.span(s.name(), "backward");
                if (i > 0) {
                    for (String unit : segments.get(i - 1).units()) {
                        if (!leaves.containsKey(unit)) {
                            params.prefetch(unit);
                        }
                    }
                }
                NDList in = segmentInputs[i];
                if (s instanceof ManualSegment manual) {
                    grads = manual.backward(call(s, scope, batch, leaves, params), in, grads);
                } else if (!recordsGraph(s, in, params)) {
                    // Frozen units over inputs that need no gradient (e.g. a frozen embedding of token
                    // ids): nothing to differentiate, and libtorch would refuse a backward here.
                    grads = inputGradients(in);
                } else {
                    try (NDManager temps = intermediates(scope, in)) {
                        NDList out = keptOutputs[i];
                        if (recomputed[i]) {
                            try (Span r = tracer.span("recompute", "backward")) {
                                Autograd.setGradMode(true);
                                out = s.forward(call(s, scope, batch, leaves, params), in);
                                Autograd.setGradMode(false);
                            }
                        }
                        backward(s, out, grads);
                        grads = inputGradients(in);
                        keep(grads, in, temps, scope);
                    }
                }
                keptOutputs[i] = null;
                for (String unit : s.units()) {
                    if (useRange.get(unit)[0] == i) {
                        Acquired acquired = leaves.remove(unit);
                        try (Span g = tracer.span("accumulate grad", "params", "unit", unit)) {
                            NDArray grad = acquired == null ? null : acquired.gradient(layouts.get(unit));
                            if (grad != null) {
                                grad.attach(scope); // the store may still read it after this returns (FSDP's reduction in flight)
                            }
                            params.accumulateGrad(unit, grad);
                            params.release(unit);
                        }
                        if (acquired != null) {
                            acquired.close();
                        }
                    }
                }
                segment.close();
            }
            backward.close();
            return finalOutputs;
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    private void prefetchNext(int i, UnitParams params) {
        if (i + 1 < segments.size()) {
            for (String unit : segments.get(i + 1).units()) {
                params.prefetch(unit);
            }
        }
    }

    /**
     * A manager for what a segment's forward (or recompute and backward) creates from its inputs:
     * the inputs are attached to it for the call (results of DJL ops join their first operand's
     * manager), and closing it frees every intermediate's handle while autograd keeps, by its own
     * references, the tensors it saved. Without it each intermediate lived in {@code scope} until the
     * micro-batch ended, whether autograd needed it or not, and a recomputed segment's activations
     * were held twice (its forward's, and its recompute's).
     */
    static NDManager intermediates(NDManager scope, NDList inputs) {
        NDManager temps = scope.newSubManager();
        for (NDArray a : inputs) {
            a.tempAttach(temps);
        }
        return temps;
    }

    /** Moves the arrays of {@code results} created in {@code temps} (not the inputs themselves) to {@code scope}. */
    static void keep(NDList results, NDList inputs, NDManager temps, NDManager scope) {
        if (temps == null) {
            return;
        }
        for (NDArray a : results) {
            if (a != null && a.getManager() == temps && inputs.stream().noneMatch(in -> in == a)) {
                a.attach(scope);
            }
        }
    }

    /** Moves the batch arrays a segment made in {@code temps} (a KV cache's new keys and values) to {@code scope}. */
    private static void keepBatch(Batch batch, NDManager temps, NDManager scope) {
        if (temps == null) {
            return;
        }
        for (String key : batch.keys()) {
            NDArray a = batch.get(key);
            if (a.getManager() == temps) {
                a.attach(scope);
            }
        }
    }

    /** A unit's leaf must outlive its forward if any kept (not recomputed) segment recorded a graph on it. */
    private boolean unitKeepsGraph(String unit, boolean[] recomputed) {
        int[] range = useRange.get(unit);
        for (int j = range[0]; j <= range[1]; j++) {
            if (segments.get(j).units().contains(unit) && !recomputed[j]) {
                return true;
            }
        }
        return false;
    }

    /**
     * A unit's parameters for this micro-batch: per parameter a tensor over the unit's flat storage,
     * each its own graph leaf when the unit trains ({@code trainable}), and the flat tensor they share.
     */
    private record Acquired(NDArray flat, Map<String, NDArray> params, boolean trainable) implements AutoCloseable {
        /**
         * The unit's flat gradient, the parameters' gradients side by side (zeros for one no backward
         * reached), or null when none was reached or the unit is frozen. Leaves per parameter rather
         * than views of one flat leaf: a view's backward (a slice's) writes its gradient into a zeroed
         * tensor of the whole unit, which autograd then adds to the flat leaf's gradient, so a decoder
         * layer's nine parameters cost nine unit-sized allocations and additions per backward (12.6 MB
         * each at the medium model) where this one concatenation allocates once.
         */
        NDArray gradient(UnitLayout layout) {
            if (!trainable) {
                return null;
            }
            NDList parts = new NDList();
            boolean reached = false;
            try {
                for (var spec : layout.params()) {
                    NDArray g = Autograd.gradientOrNull(params.get(spec.name()));
                    reached |= g != null;
                    parts.add(g != null ? g.reshape(-1)
                            : flat.getManager().zeros(new Shape(spec.numel()), flat.getDataType()));
                    if (g != null) {
                        g.close();
                    }
                }
                return reached ? NDArrays.concat(parts, 0) : null;
            } finally {
                parts.forEach(NDArray::close);
            }
        }

        /**
         * Once no segment will read the unit again: the handles go now, not with the micro-batch's
         * scope, and with them their hold on the weights' storage (a gathered FSDP unit's included).
         */
        @Override
        public void close() {
            params.values().forEach(NDArray::close);
            flat.close();
        }
    }

    /**
     * The call of segment {@code s}, acquiring the units it reads that {@code acquired} lacks. A unit's
     * parameters are made once per acquisition and shared by every segment that reads it: when every
     * call made its own views (a slice and a reshape per parameter, with autograd nodes), they cost
     * 60 KB of C heap per call of a Wan block, so an ROI split of it into seven regions kept 0.4 MB
     * more than its calibration, which makes one call, had measured.
     */
    private SegmentCall call(Segment s, NDManager scope, Batch batch, Map<String, Acquired> acquired,
            UnitParams params) {
        Map<String, NDArray> views = new HashMap<>();
        for (String unit : s.units()) {
            Acquired a = acquired.get(unit);
            if (a == null) {
                NDArray full;
                try (Span span = tracer.span("acquire params", "params", "unit", unit)) {
                    full = params.acquire(unit, scope);
                }
                NDArray flat = full.stopGradient();
                flat.attach(scope);
                Map<String, NDArray> perParam = layouts.get(unit).views(flat);
                // A frozen unit's weights join the graph as constants: autograd computes no
                // gradient for them (no weight-gradient matmuls), only through them to the inputs.
                boolean trainable = trainable(unit, params);
                if (trainable) {
                    perParam.replaceAll((name, view) -> {
                        NDArray leaf = Autograd.leaf(view);
                        view.close();
                        return leaf;
                    });
                }
                a = new Acquired(flat, perParam, trainable);
                acquired.put(unit, a);
            }
            views.putAll(a.params());
        }
        return new SegmentCall(s.name(), scope, views, batch);
    }

    private static void backward(Segment s, NDList outputs, NDList grads) {
        if (grads == null || grads.size() != outputs.size()) {
            throw new IllegalStateException("segment " + s.name() + " produced " + outputs.size()
                    + " outputs but received " + (grads == null ? 0 : grads.size()) + " gradients");
        }
        int last = -1;
        for (int k = 0; k < outputs.size(); k++) {
            if (grads.get(k) != null && outputs.get(k).getDataType().isFloating()) {
                last = k;
            }
        }
        for (int k = 0; k <= last; k++) {
            if (grads.get(k) != null && outputs.get(k).getDataType().isFloating()) {
                Autograd.backward(outputs.get(k), grads.get(k), k < last);
            }
        }
    }

    /** The next segment's inputs: same storage, fresh graph roots for the floating-point ones. */
    static NDList boundaryLeaves(NDList x) {
        NDList leaves = new NDList(x.size());
        for (NDArray a : x) {
            if (a.getDataType().isFloating()) {
                NDArray leaf = a.stopGradient();
                leaf.setRequiresGradient(true);
                leaves.add(leaf);
            } else {
                leaves.add(a);
            }
        }
        return leaves;
    }

    static NDList detached(NDList out) {
        NDList d = new NDList(out.size());
        for (NDArray a : out) {
            d.add(a.getDataType().isFloating() ? a.stopGradient() : a);
        }
        return d;
    }

    /** Whether {@code s} records a graph: it has a floating-point input or a trainable unit. */
    private boolean recordsGraph(Segment s, NDList inputs, UnitParams params) {
        for (NDArray a : inputs) {
            if (a.getDataType().isFloating()) {
                return true;
            }
        }
        for (String unit : s.units()) {
            if (trainable(unit, params)) {
                return true;
            }
        }
        return false;
    }

    private static NDList inputGradients(NDList inputs) {
        List<NDArray> grads = new ArrayList<>(inputs.size());
        for (NDArray a : inputs) {
            grads.add(a.getDataType().isFloating() ? Autograd.gradientOrNull(a) : null);
        }
        NDList list = new NDList(grads.size());
        list.addAll(grads);
        return list;
    }

    /** Frozen by its layout (every parameter untrainable) or by the store's placement. */
    private boolean trainable(String unit, UnitParams params) {
        return params.trainable(unit) && !layouts.get(unit).frozen();
    }
}
