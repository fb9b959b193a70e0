package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;
import java.util.function.Function;

/**
 * {@link SelfAttentionBlock#forward} (training, no KV cache) as the recompute candidates of ROI
 * recompute ({@link ai.omnispark.parallel.engine.SteppedSegment}): {@code NAME.norm} [x] -> [x, h],
 * {@code NAME.qkv} [x, h] -> [x, q, k, v] (projected, normed, rotated), {@code NAME.core}
 * [x, q, k, v] -> [x, attention output] and {@code NAME.out} [x, o] -> [x + o_proj(o)]; the
 * residual x travels first, and any further inputs (a family's side outputs, such as the MoE's
 * router counts) pass through after. Together they compute exactly what the block does.
 */
public final class AttentionSteps {
    private AttentionSteps() {}

    public static List<Segment> of(String name, List<String> units, int layer, String prefix,
            SelfAttentionBlock.Spec spec, Function<SegmentCall, SelfAttentionBlock.Projection> linear,
            Attention attention) {
        return List.of(new Step(name + ".norm", units, (call, in) -> rest(in, 1, in.get(0),
                        SelfAttentionBlock.norm(call, in.get(0), prefix, spec))),
                new Step(name + ".qkv", units, (call, in) -> {
                    NDArray[] qkv = SelfAttentionBlock.projectNormed(call, in.get(1), prefix, spec, linear.apply(call));
                    return rest(in, 2, in.get(0), qkv[0], qkv[1], qkv[2]);
                }),
                new Step(name + ".core", units, (call, in) -> rest(in, 4, in.get(0),
                        SelfAttentionBlock.attend(call, layer, attention, in.get(1), in.get(2), in.get(3)))),
                new Step(name + ".out", units, (call, in) -> rest(in, 2,
                        SelfAttentionBlock.output(call, in.get(0), in.get(1), prefix, spec, linear.apply(call)))));
    }

    /** {@code head} followed by {@code in}'s arrays from {@code from} on: what a family carries past the block. */
    private static NDList rest(NDList in, int from, NDArray... head) {
        NDList out = new NDList(head);
        for (int i = from; i < in.size(); i++) {
            out.add(in.get(i));
        }
        return out;
    }

    /** A step of a stepped segment: a name, the owner's units and what it computes. */
    public record Step(String name, List<String> units, java.util.function.BiFunction<SegmentCall, NDList, NDList> body)
            implements Segment {
        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            return body.apply(call, inputs);
        }
    }
}
