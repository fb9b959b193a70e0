package ai.omnispark.parallel.engine;

import ai.djl.ndarray.NDList;

/**
 * A segment with a hand-written backward, for boundaries that autograd cannot see through, such
 * as an all-to-all between ranks. It reads no parameters. The engine runs its forward without
 * recording and calls {@link #backward} with the gradients of its outputs.
 */
public interface ManualSegment extends Segment {
    /**
     * Gradients of the inputs, in input order; null where an input takes no gradient.
     *
     * @param gradOutputs gradients of the outputs, null where an output got none
     */
    NDList backward(SegmentCall call, NDList inputs, NDList gradOutputs);
}
