package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDList;
import java.util.List;

/**
 * A piece of a model's forward pass: a pure function of its boundary inputs, the batch's side
 * inputs and the parameters of the units it names. The engine decides whether its activations are
 * kept or recomputed and where its parameters come from.
 */
public interface Segment {
    String name();

    /** Units whose parameters this segment reads, by {@link ai.omnispark.parallel.param.UnitLayout} name. */
    List<String> units();

    /** Computes the outputs; must not keep state between calls. */
    NDList forward(SegmentCall call, NDList inputs);
}
