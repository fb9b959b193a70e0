package ai.omnispark.models.decoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.SiluMul;
import ai.omnispark.models.nn.attention.AttentionSteps.Step;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;
import java.util.function.Function;

/**
 * {@link SwiGluMlp#forward} as ROI recompute candidates: {@code NAME.norm} [r] -> [r, m],
 * {@code NAME.gate_up} [r, m] -> [r, gate, up], {@code NAME.act} [r, gate, up] -> [r, silu(gate) * up]
 * and {@code NAME.down} [r, p] -> [r + down_proj(p)].
 */
public final class SwiGluSteps {
    private SwiGluSteps() {}

    public static List<Segment> of(String name, List<String> units, int layer, double rmsNormEps,
            Function<SegmentCall, SelfAttentionBlock.Projection> linear, SiluMul act) {
        return List.of(new Step(name + ".norm", units, (call, in) -> new NDList(in.get(0),
                        SwiGluMlp.norm(call, in.get(0), layer, rmsNormEps))),
                new Step(name + ".gate_up", units, (call, in) -> {
                    NDArray[] gu = SwiGluMlp.gateUp(call, in.get(1), layer, linear.apply(call));
                    return new NDList(in.get(0), gu[0], gu[1]);
                }),
                new Step(name + ".act", units, (call, in) -> new NDList(in.get(0),
                        SwiGluMlp.product(in.get(1), in.get(2), act))),
                new Step(name + ".down", units, (call, in) -> new NDList(
                        SwiGluMlp.down(call, in.get(0), in.get(1), layer, linear.apply(call)))));
    }
}
