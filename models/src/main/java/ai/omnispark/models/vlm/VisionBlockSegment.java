package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.AttentionInputs;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * ViT block i of the vision tower over every patch of the micro-batch, [N_patches, embed_dim]:
 * {@code x + proj(attention(norm1 x))}, then {@code + fc2(quick_gelu(fc1(norm2 .)))}. Attention is
 * bidirectional and block-diagonal: a patch sees only the patches of its own temporal frame group
 * of its own media ({@link VlmBatch#VISION_SEGMENTS}), never another image's; q and k take the
 * batch's 2-D rotary tables. Its four linears go through their LoRA adapters when the model has them.
 */
final class VisionBlockSegment implements Segment {
    private final VisionConfig vision;
    private final int block;
    private final Attention attention;
    private final LoraTargets lora;

    VisionBlockSegment(VisionConfig vision, int block, Attention attention, LoraTargets lora) {
        this.vision = vision;
        this.block = block;
        this.attention = attention;
        this.lora = lora;
    }

    @Override
    public String name() {
        return VisionNames.blockUnit(block);
    }

    @Override
    public List<String> units() {
        return lora.units(VisionNames.blockUnit(block));
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(VisionNames.block(block, suffix));
    }

    /** The block's linear {@code kind} (e.g. "attn.qkv") with its bias, through its adapter if it has one. */
    private NDArray linear(SegmentCall call, NDArray x, String kind) {
        return lora.linear(call, x, VisionNames.block(block, kind), p(call, kind + ".bias"));
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.singletonOrThrow();
        long n = x.getShape().get(0);
        if (n == 0) {
            return new NDList(x);
        }
        double eps = VisionConfig.LAYER_NORM_EPS;
        NDArray h = Ops.layerNorm(x, p(call, "norm1.weight"), p(call, "norm1.bias"), eps);
        NDArray attended = attend(call, linear(call, h, "attn.qkv"), n);
        x = x.add(linear(call, attended, "attn.proj"));
        NDArray m = Ops.layerNorm(x, p(call, "norm2.weight"), p(call, "norm2.bias"), eps);
        NDArray up = Ops.quickGelu(linear(call, m, "mlp.fc1"));
        return new NDList(x.add(linear(call, up, "mlp.fc2")));
    }

    /** Attention of qkv [N, 3 * embed_dim] (q, k, v side by side, each heads x head_dim) to [N, embed_dim]. */
    private NDArray attend(SegmentCall call, NDArray qkv, long n) {
        int heads = vision.numHeads();
        int hd = vision.headDim();
        // [N, 3, heads, hd] -> [3, heads, N, hd]; q, k, v each [1, heads, N, hd].
        NDArray split = qkv.reshape(n, 3, heads, hd).transpose(1, 2, 0, 3);
        Batch batch = call.batch();
        NDArray cos = rotary(batch, VlmBatch.VISION_ROPE_COS, split, n, hd);
        NDArray sin = rotary(batch, VlmBatch.VISION_ROPE_SIN, split, n, hd);
        NDArray q = Ops.rope(split.get(new NDIndex("0")).expandDims(0), cos, sin);
        NDArray k = Ops.rope(split.get(new NDIndex("1")).expandDims(0), cos, sin);
        NDArray v = split.get(new NDIndex("2")).expandDims(0);
        NDArray out = attention.attend(new AttentionInputs(q, k, v, FrameGroups.docIds(call, n), false, null));
        return out.transpose(0, 2, 1, 3).reshape(n, (long) heads * hd);
    }

    /** The batch's table {@code key} as [1, 1, N, hd] in {@code like}'s dtype. */
    private static NDArray rotary(Batch batch, String key, NDArray like, long n, int hd) {
        NDArray table = batch.get(key);
        if (!table.getShape().equals(new Shape(n, hd))) {
            throw new IllegalArgumentException(key + " must be [patches, vision head_dim] = [" + n + ", " + hd + "], got "
                    + table.getShape());
        }
        NDArray t = table.getDataType() == like.getDataType() ? table : table.toType(like.getDataType(), false);
        return t.reshape(1, 1, n, hd);
    }
}
