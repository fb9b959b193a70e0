package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDList;
import java.util.List;

/**
 * A segment cut into named steps (checkpoint regions) that ROI recompute can keep or recompute one
 * by one: each step is a segment over the same units whose inputs are the previous step's outputs
 * (a residual the later steps need travels along in the list). A family declares its recompute
 * candidates this way and nothing else; {@link Regions} turns a choice of steps into the segments
 * the engine runs, and {@link StepCalibration} measures what each choice keeps and costs.
 */
public interface SteppedSegment extends Segment {
    /** The steps in order; their names are the candidates' names and must be unique in a model. */
    List<Segment> steps();

    /** {@code segment} as one step of its own: a candidate for a family that declares no finer ones. */
    static SteppedSegment whole(Segment segment) {
        if (segment instanceof ManualSegment) {
            throw new IllegalArgumentException("manual segment " + segment.name() + " runs no autograd to recompute");
        }
        return new SteppedSegment() {
            public String name() {
                return segment.name();
            }

            public List<String> units() {
                return segment.units();
            }

            public List<Segment> steps() {
                return List.of(segment);
            }

            public NDList forward(SegmentCall call, NDList inputs) {
                return segment.forward(call, inputs);
            }
        };
    }

    @Override
    default NDList forward(SegmentCall call, NDList inputs) {
        NDList x = inputs;
        for (Segment step : steps()) {
            x = step.forward(call, x);
        }
        return x;
    }
}
