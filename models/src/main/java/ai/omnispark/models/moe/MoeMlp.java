package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.ArrayList;
import java.util.List;

/**
 * The second half of a pre-norm MoE block with its residual: the dense SwiGLU MLP, or the sparse
 * block (router, {@link GroupedExperts}, and for Qwen2-MoE the shared expert scaled by
 * sigmoid(h W_shared_gate^T)). Under expert parallelism a sparse layer runs as
 * {@link ExpertParallelMlp}'s five segments instead.
 *
 * <p>With the load-balancing loss on, a sparse layer adds its router statistics over the batch's
 * non-padding tokens to the two it receives (the first sparse layer starts them): the summed softmax probability of each expert
 * (recorded: the loss's gradient flows through it) and the number of top-k slots each expert took
 * (int64, not differentiated). {@link MoeHead} turns the totals over all sparse layers into the loss.
 */
final class MoeMlp implements Segment {
    private final MoeConfig config;
    private final int layer;
    private final RouterMetrics metrics;

    MoeMlp(MoeConfig config, int layer, RouterMetrics metrics) {
        this.config = config;
        this.layer = layer;
        this.metrics = metrics;
    }

    @Override
    public String name() {
        return "mlp." + layer;
    }

    int layer() {
        return layer;
    }

    /** The block's unit and, for a sparse layer, every expert's unit. */
    @Override
    public List<String> units() {
        List<String> units = new ArrayList<>();
        units.add(DecoderNames.unit(layer));
        if (config.sparse(layer)) {
            for (int e = 0; e < config.numExperts(); e++) {
                units.add(MoeNames.expertUnit(layer, e));
            }
        }
        return units;
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(DecoderNames.layer(layer, suffix));
    }

    static NDArray swiglu(NDArray x, NDArray gate, NDArray up, NDArray down) {
        return Ops.linear(Ops.silu(Ops.linear(x, gate, null)).mul(Ops.linear(x, up, null)), down, null);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray r = inputs.get(0);
        NDArray m = Ops.rmsNorm(r, p(call, "post_attention_layernorm.weight"), config.rmsNormEps());
        if (!config.sparse(layer)) {
            NDArray dense = swiglu(m, p(call, "mlp.gate_proj.weight"), p(call, "mlp.up_proj.weight"),
                    p(call, "mlp.down_proj.weight"));
            NDList out = new NDList(r.add(dense));
            for (int i = 1; i < inputs.size(); i++) {
                out.add(inputs.get(i));
            }
            return out;
        }
        Shape shape = r.getShape();
        long h = config.hiddenSize();
        NDArray flat = m.reshape(-1, h);
        Router.Routing routing = Router.route(flat, p(call, "mlp.gate.weight"), config.numExpertsPerTok(),
                config.normTopkProb());
        metrics.record(call, layer, routing);
        NDArray moe = GroupedExperts.apply(flat, routing, config.numExperts(), e -> new GroupedExperts.Expert(
                call.param(MoeNames.expert(layer, e, "gate_proj")), call.param(MoeNames.expert(layer, e, "up_proj")),
                call.param(MoeNames.expert(layer, e, "down_proj"))));
        if (config.sharedExpert()) {
            NDArray shared = swiglu(flat, p(call, "mlp.shared_expert.gate_proj.weight"),
                    p(call, "mlp.shared_expert.up_proj.weight"), p(call, "mlp.shared_expert.down_proj.weight"));
            NDArray gate = Activation.sigmoid(Ops.linear(flat, p(call, "mlp.shared_expert_gate.weight"), null));
            moe = moe.add(gate.mul(shared));
        }
        NDList out = new NDList(r.add(moe.reshape(shape)));
        if (config.auxLoss()) {
            out.addAll(statistics(config, call, routing, inputs.size() == 1 ? null : inputs.subNDList(1)));
        }
        return out;
    }

    /**
     * The router statistics after this layer: this layer's summed probabilities and slot counts over
     * the routed tokens, added to {@code before} (the two received; null at the first sparse layer).
     */
    static NDList statistics(MoeConfig config, SegmentCall call, Router.Routing routing, NDList before) {
        NDArray routed = call.batch().get(MoeCollator.ROUTED_MASK);
        NDArray probSums = routing.probs().mul(routed).sum(new int[] {0});
        NDArray counts = slotCounts(config, call, routing, routed);
        // The first sparse layer starts the statistics: a fresh zero tensor carried from the
        // embedding would reach backward as an output that autograd never recorded.
        return before == null ? new NDList(probSums, counts)
                : new NDList(before.get(0).add(probSums), before.get(1).add(counts));
    }

    /** Per expert, the top-k slots it took among the non-padding tokens, as int64 [E]. */
    private static NDArray slotCounts(MoeConfig config, SegmentCall call, Router.Routing routing, NDArray routedMask) {
        float[] routed = routedMask.toType(DataType.FLOAT32, false).toFloatArray();
        long[] counts = new long[config.numExperts()];
        long[] chosen = routing.experts();
        int k = routing.topK();
        for (int s = 0; s < chosen.length; s++) {
            if (routed[s / k] != 0) {
                counts[(int) chosen[s]]++;
            }
        }
        return Ops.owned(call.manager().create(counts), DataType.INT64);
    }
}
