package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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
 * batch's 2-D rotary tables.
 */
final class VisionBlockSegment implements Segment {
    private final VisionConfig vision;
    private final int block;
    private final Attention attention;

    VisionBlockSegment(VisionConfig vision, int block, Attention attention) {
        this.vision = vision;
        this.block = block;
        this.attention = attention;
    }

    @Override
    public String name() {
        return VisionNames.blockUnit(block);
    }

    @Override
    public List<String> units() {
        return List.of(VisionNames.blockUnit(block));
    }

    private NDArray p(SegmentCall call, String suffix) {
        return call.param(VisionNames.block(block, suffix));
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
        NDArray attended = attend(call, Ops.linear(h, p(call, "attn.qkv.weight"), p(call, "attn.qkv.bias")), n);
        x = x.add(Ops.linear(attended, p(call, "attn.proj.weight"), p(call, "attn.proj.bias")));
        NDArray m = Ops.layerNorm(x, p(call, "norm2.weight"), p(call, "norm2.bias"), eps);
        NDArray up = Ops.quickGelu(Ops.linear(m, p(call, "mlp.fc1.weight"), p(call, "mlp.fc1.bias")));
        return new NDList(x.add(Ops.linear(up, p(call, "mlp.fc2.weight"), p(call, "mlp.fc2.bias"))));
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
