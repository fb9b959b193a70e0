package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDList;
import java.util.List;

/**
 * Consecutive steps of a {@link SteppedSegment} run as one engine segment: recomputed together, so
 * only the first step's inputs are kept from forward to backward, not the tensors between them.
 */
record Region(String name, List<String> units, List<Segment> steps) implements Segment {
    Region {
        steps = List.copyOf(steps);
        units = List.copyOf(units);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDList x = inputs;
        for (Segment step : steps) {
            x = step.forward(call, x);
        }
        return x;
    }
}
