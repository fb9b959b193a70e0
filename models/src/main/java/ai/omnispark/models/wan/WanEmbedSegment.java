package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Unit "embed": the Conv3d patch embedding of hidden_states (kernel = stride, so a linear over each
 * flattened (c, pt, ph, pw) patch; tokens in (f, h, w) order, w fastest) and diffusers'
 * WanTimeTextImageEmbedding. Outputs the block boundary {@link WanBlockSegment} reads and passes on:
 * x [B, S, D], timestep_proj [B, 6, D], temb [B, D], the text context [B, L, D] and, image-to-video,
 * the image context [B, 257, D].
 */
final class WanEmbedSegment implements Segment {
    private final WanConfig config;

    WanEmbedSegment(WanConfig config) {
        this.config = config;
    }

    @Override
    public String name() {
        return WanLayouts.EMBED_UNIT;
    }

    @Override
    public List<String> units() {
        return List.of(WanLayouts.EMBED_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        Batch batch = call.batch();
        long d = config.dim();
        // Under Ulysses the batch holds this rank's patches already (WanPatchTokens), not hidden_states.
        NDArray patches = batch.has(WanBatch.PATCHES) ? batch.get(WanBatch.PATCHES)
                : WanOps.patchify(batch.get(WanBatch.HIDDEN_STATES), config.patchSize());
        long b = patches.getShape().get(0);
        long c = config.inChannels();
        NDArray weight = call.param(WanLayouts.PATCH_EMBEDDING + ".weight").reshape(d, c * config.patchVolume());
        NDArray x = Ops.linear(patches, weight, call.param(WanLayouts.PATCH_EMBEDDING + ".bias"));

        NDArray freq = WanOps.timestepEmbedding(batch.get(WanBatch.TIMESTEP), config.freqDim());
        NDArray temb = linear(call, Ops.silu(linear(call, freq, WanLayouts.TIME_LINEAR_1)), WanLayouts.TIME_LINEAR_2);
        NDArray timestepProj = linear(call, Ops.silu(temb), WanLayouts.TIME_PROJ).reshape(b, 6, d);
        NDArray text = linear(call, Ops.geluTanh(linear(call, batch.get(WanBatch.ENCODER_HIDDEN_STATES),
                WanLayouts.TEXT_LINEAR_1)), WanLayouts.TEXT_LINEAR_2);
        NDList out = new NDList(x, timestepProj, temb, text);
        if (config.isImageToVideo()) {
            String e = WanLayouts.IMAGE_EMBEDDER;
            // FP32LayerNorm(features) of diffusers' WanImageEmbedding: torch's default eps 1e-5, affine.
            NDArray img = Ops.layerNorm(batch.get(WanBatch.ENCODER_HIDDEN_STATES_IMAGE), call.param(e + "norm1.weight"),
                    call.param(e + "norm1.bias"), 1e-5);
            img = linear(call, Ops.gelu(linear(call, img, e + "ff.net.0.proj")), e + "ff.net.2");
            out.add(Ops.layerNorm(img, call.param(e + "norm2.weight"), call.param(e + "norm2.bias"), 1e-5));
        }
        return out;
    }

    private static NDArray linear(SegmentCall call, NDArray x, String name) {
        return Ops.linear(x, call.param(name + ".weight"), call.param(name + ".bias"));
    }
}
