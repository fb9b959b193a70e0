package ai.omnispark.parallel.engine;

import java.util.List;

/**
 * What one segment of a model keeps for backward and costs to recompute, measured by
 * {@link StepCalibration} on one micro-batch's shapes.
 *
 * @param segment the segment's name
 * @param steps its steps' names (the recompute candidates), empty for a segment that is not stepped
 * @param stepMicros each step's forward time with autograd recording, in microseconds: what recomputing it costs in backward
 * @param keptBytes by bit mask of recomputed steps (bit j: step j recomputed), the bytes the segment
 *     keeps from its forward to its backward; one entry (nothing recomputed) for a segment that is not stepped
 * @param forwardMicros the whole segment's forward time with recording
 */
public record SegmentCost(String segment, List<String> steps, double[] stepMicros, long[] keptBytes,
        double forwardMicros) {
    public SegmentCost {
        steps = List.copyOf(steps);
        if (keptBytes.length != 1 << steps.size() || stepMicros.length != steps.size()) {
            throw new IllegalArgumentException("segment " + segment + ": " + steps.size() + " steps need "
                    + (1 << steps.size()) + " kept-byte entries and " + steps.size() + " step times, not "
                    + keptBytes.length + " and " + stepMicros.length);
        }
    }

    /** The same figures under another segment's name and step names (a layer of the same shape). */
    SegmentCost renamed(String name, List<String> stepNames) {
        return new SegmentCost(name, stepNames, stepMicros, keptBytes, forwardMicros);
    }
}
