package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionInputs;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.engine.SteppedSegment;
import ai.omnispark.models.nn.attention.AttentionSteps.Step;
import java.util.List;

/**
 * Transformer block i (diffusers' WanTransformerBlock) over x [B, S, D], with (shift, scale, gate,
 * c_shift, c_scale, c_gate) = scale_shift_table + timestep_proj:
 * <pre>
 *  x += gate * attn1(LN(x)(1 + scale) + shift)          self-attention over every token of the sample, 3-D RoPE
 *  x += attn2(norm2(x), context)                          cross-attention to the text (+ image) tokens
 *  x += c_gate * FFN(LN(x)(1 + c_scale) + c_shift)       tanh-GELU FFN
 * </pre>
 * q and k go through RMSNorm over all of D before the heads split. Image-to-video: attn2 adds the
 * attention of the same queries to add_k_proj / add_v_proj of the image tokens. The other boundary
 * tensors (timestep_proj, temb, contexts) pass through unchanged.
 */
final class WanBlockSegment implements SteppedSegment {
    private final WanConfig config;
    private final int block;
    private final Attention attention;
    private final LoraTargets lora;

    WanBlockSegment(WanConfig config, int block, Attention attention, LoraTargets lora) {
        this.config = config;
        this.block = block;
        this.attention = attention;
        this.lora = lora;
    }

    @Override
    public String name() {
        return WanLayouts.blockUnit(block);
    }

    @Override
    public List<String> units() {
        return lora.units(WanLayouts.blockUnit(block));
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(WanLayouts.block(block, suffix));
    }

    private NDArray linear(SegmentCall call, NDArray x, String kind) {
        return lora.linear(call, x, WanLayouts.block(block, kind), p(call, kind + ".bias"));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.get(0);
        NDArray[] mod = modulation(call, inputs.get(1));
        NDArray[] qkv = selfAttentionInputs(call, x, mod);
        return finish(call, inputs, attend(qkv[0], qkv[1], qkv[2]), mod);
    }

    /**
     * (shift, scale, gate, c_shift, c_scale, c_gate) = scale_shift_table [1, 6, D] + timestep_proj
     * [B, 6, D], each [B, 1, D].
     */
    NDArray[] modulation(SegmentCall call, NDArray timestepProj) {
        NDArray mod = p(call, WanLayouts.SCALE_SHIFT_TABLE).add(timestepProj);
        NDArray[] chunks = new NDArray[6];
        for (int i = 0; i < 6; i++) {
            chunks[i] = chunk(mod, i);
        }
        return chunks;
    }

    /**
     * Self-attention's q, k, v [B, heads, S, head_dim] of the tokens x [B, S, D] (all of a sample's, or
     * an sp rank's slice with the batch's rotary tables cut alike): modulated norm, projections, q/k
     * RMSNorm over all of D, RoPE on q and k.
     */
    NDArray[] selfAttentionInputs(SegmentCall call, NDArray x, NDArray[] mod) {
        return rotatedQkv(call, WanOps.layerNorm(x, config.eps()).mul(mod[1].add(Ops.constant(x, 1))).add(mod[0]));
    }

    /**
     * The rest of the block from self-attention's output heads {@code attended} [B, heads, S, head_dim]:
     * x += gate * to_out(attended), cross-attention, FFN; the outputs are x and inputs 1.. unchanged.
     */
    NDList finish(SegmentCall call, NDList inputs, NDArray attended, NDArray[] mod) {
        NDArray x = inputs.get(0);
        NDArray text = inputs.get(3);
        NDArray image = config.isImageToVideo() ? inputs.get(4) : null;
        double eps = config.eps();
        NDArray one = Ops.constant(x, 1);
        x = x.add(linear(call, merge(attended), "attn1.to_out.0").mul(mod[2]));
        x = cross(call, x, text, image);
        NDArray m = WanOps.layerNorm(x, eps).mul(mod[4].add(one)).add(mod[3]);
        NDArray ffn = linear(call, Ops.geluTanh(linear(call, m, WanLayouts.FFN_UP)), WanLayouts.FFN_DOWN);
        x = x.add(ffn.mul(mod[5]));
        NDList out = new NDList(x);
        for (int i = 1; i < inputs.size(); i++) {
            out.add(inputs.get(i));
        }
        return out;
    }

    /** This block as Ulysses' five segments over the sp group {@code sp} ({@link WanUlyssesBlock}). */
    List<Segment> ulysses(Communicator sp) {
        return WanUlyssesBlock.segments(this, sp);
    }

    /**
     * ROI recompute's candidates, the arithmetic of {@link #forward} cut where it keeps large tensors;
     * B = the boundary tensors after x (timestep_proj, temb, contexts), passed along unchanged:
     * {@code NAME.norm1} [x, B] -> [x, h, B] (LayerNorm + modulation), {@code NAME.qkv} [x, h, B] ->
     * [x, q, k, v, B] (projections, q/k RMSNorm, heads, RoPE), {@code NAME.attn} -> [x, o, B]
     * (attention core, heads merged), {@code NAME.attn_out} -> [x, B] (to_out + gated residual),
     * {@code NAME.cross} [x, B] -> [x, B] (norm2 + cross-attention + residual), {@code NAME.ffn_up}
     * -> [x, g, B] (LayerNorm + modulation + up + tanh-GELU), {@code NAME.ffn_down} -> [x, B]
     * (down + gated residual).
     */
    @Override
    public List<Segment> steps() {
        List<String> units = units();
        String name = name();
        return List.of(new Step(name + ".norm1", units, (call, in) -> with(in, 1, in.get(0),
                        WanOps.layerNorm(in.get(0), config.eps()).mul(mod(call, in.get(1), 1).add(Ops.constant(in.get(0), 1)))
                                .add(mod(call, in.get(1), 0)))),
                new Step(name + ".qkv", units, (call, in) -> {
                    NDArray[] qkv = rotatedQkv(call, in.get(1));
                    return with(in, 2, in.get(0), qkv[0], qkv[1], qkv[2]);
                }),
                new Step(name + ".attn", units, (call, in) -> with(in, 4, in.get(0),
                        merge(attend(in.get(1), in.get(2), in.get(3))))),
                new Step(name + ".attn_out", units, (call, in) -> with(in, 2, in.get(0).add(
                        linear(call, in.get(1), "attn1.to_out.0").mul(mod(call, in.get(2), 2))))),
                new Step(name + ".cross", units, (call, in) -> with(in, 1, cross(call, in.get(0), in.get(3),
                        config.isImageToVideo() ? in.get(4) : null))),
                new Step(name + ".ffn_up", units, (call, in) -> {
                    NDArray x = in.get(0);
                    NDArray m = WanOps.layerNorm(x, config.eps()).mul(mod(call, in.get(1), 4).add(Ops.constant(x, 1)))
                            .add(mod(call, in.get(1), 3));
                    return with(in, 1, x, Ops.geluTanh(linear(call, m, WanLayouts.FFN_UP)));
                }),
                new Step(name + ".ffn_down", units, (call, in) -> with(in, 2, in.get(0).add(
                        linear(call, in.get(1), WanLayouts.FFN_DOWN).mul(mod(call, in.get(2), 5))))));
    }

    /** {@code head} followed by in[from..]: a step's outputs with the boundary tensors passed on. */
    private static NDList with(NDList in, int from, NDArray... head) {
        NDList out = new NDList(head);
        for (int i = from; i < in.size(); i++) {
            out.add(in.get(i));
        }
        return out;
    }

    /** Modulation i of (shift, scale, gate, c_shift, c_scale, c_gate), [B, 1, D]. */
    private NDArray mod(SegmentCall call, NDArray timestepProj, int i) {
        return chunk(p(call, WanLayouts.SCALE_SHIFT_TABLE).add(timestepProj), i);
    }

    /** x + attn2(norm2(x), context), the cross-attention residual. */
    private NDArray cross(SegmentCall call, NDArray x, NDArray text, NDArray image) {
        NDArray n = config.crossAttnNorm()
                ? Ops.layerNorm(x, p(call, "norm2.weight"), p(call, "norm2.bias"), config.eps()) : x;
        return x.add(crossAttention(call, n, text, image));
    }

    private static NDArray chunk(NDArray mod, int i) {
        return mod.get(new NDIndex(":, {}:{}", i, i + 1));
    }

    /** Self-attention's q, k (RMSNorm, RoPE) and v, each [B, heads, S, head_dim]. */
    private NDArray[] rotatedQkv(SegmentCall call, NDArray h) {
        NDArray q = Ops.rmsNorm(linear(call, h, "attn1.to_q"), p(call, "attn1.norm_q.weight"), config.eps());
        NDArray k = Ops.rmsNorm(linear(call, h, "attn1.to_k"), p(call, "attn1.norm_k.weight"), config.eps());
        NDArray v = linear(call, h, "attn1.to_v");
        NDArray cos = rotary(call, WanBatch.ROPE_COS, q);
        NDArray sin = rotary(call, WanBatch.ROPE_SIN, q);
        return new NDArray[] {WanOps.ropeInterleaved(heads(q), cos, sin), WanOps.ropeInterleaved(heads(k), cos, sin),
                heads(v)};
    }

    private NDArray crossAttention(SegmentCall call, NDArray h, NDArray text, NDArray image) {
        NDArray q = heads(Ops.rmsNorm(linear(call, h, "attn2.to_q"), p(call, "attn2.norm_q.weight"), config.eps()));
        NDArray k = Ops.rmsNorm(linear(call, text, "attn2.to_k"), p(call, "attn2.norm_k.weight"), config.eps());
        NDArray out = attend(q, heads(k), heads(linear(call, text, "attn2.to_v")));
        if (image != null) {
            NDArray ki = Ops.rmsNorm(linear(call, image, "attn2.add_k_proj"), p(call, "attn2.norm_added_k.weight"),
                    config.eps());
            out = out.add(attend(q, heads(ki), heads(linear(call, image, "attn2.add_v_proj"))));
        }
        return linear(call, merge(out), "attn2.to_out.0");
    }

    NDArray attend(NDArray q, NDArray k, NDArray v) {
        return attention.attend(new AttentionInputs(q, k, v, null, false, null));
    }

    /** [B, S, D] -> [B, heads, S, head_dim]. */
    private NDArray heads(NDArray x) {
        long b = x.getShape().get(0);
        long s = x.getShape().get(1);
        return x.reshape(b, s, config.numAttentionHeads(), config.attentionHeadDim()).transpose(0, 2, 1, 3);
    }

    private static NDArray merge(NDArray x) {
        long b = x.getShape().get(0);
        long s = x.getShape().get(2);
        return x.transpose(0, 2, 1, 3).reshape(b, s, -1);
    }

    /** The batch's table {@code key} [S, head_dim] as [1, 1, S, head_dim] in {@code like}'s dtype. */
    private NDArray rotary(SegmentCall call, String key, NDArray like) {
        NDArray table = call.batch().get(key);
        long s = like.getShape().get(1);
        if (table.getShape().get(0) != s || table.getShape().get(1) != config.attentionHeadDim()) {
            throw new IllegalArgumentException(key + " must be [tokens = " + s + ", head_dim = "
                    + config.attentionHeadDim() + "], got " + table.getShape());
        }
        NDArray t = table.getDataType() == like.getDataType() ? table : table.toType(like.getDataType(), false);
        return t.reshape(1, 1, s, config.attentionHeadDim());
    }
}
