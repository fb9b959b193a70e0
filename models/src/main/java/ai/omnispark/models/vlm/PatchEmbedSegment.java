package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * The batch's pixel rows [N_patches, C*tp*p*p] to patch embeddings [N_patches, embed_dim]: HF's
 * Conv3d with kernel = stride over one patch is a linear over the flattened patch, no bias. A batch
 * without media gives [0, embed_dim].
 */
final class PatchEmbedSegment implements Segment {
    private final VisionConfig vision;

    PatchEmbedSegment(VisionConfig vision) {
        this.vision = vision;
    }

    @Override
    public String name() {
        return VisionNames.PATCH_EMBED_UNIT;
    }

    @Override
    public List<String> units() {
        return List.of(VisionNames.PATCH_EMBED_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray weight = call.param(VisionNames.PATCH_EMBED).reshape(vision.embedDim(), vision.patchDim());
        if (!call.batch().has(VlmBatch.PIXEL_VALUES)) {
            return new NDList(call.manager().zeros(new Shape(0, vision.embedDim()), weight.getDataType()));
        }
        NDArray pixels = call.batch().get(VlmBatch.PIXEL_VALUES);
        Shape shape = pixels.getShape();
        if (shape.dimension() != 2 || shape.get(1) != vision.patchDim()) {
            throw new IllegalArgumentException(VlmBatch.PIXEL_VALUES + " must be [patches, C*tp*p*p = " + vision.patchDim()
                    + "], got " + shape);
        }
        if (pixels.getDataType() != weight.getDataType()) {
            pixels = pixels.toType(weight.getDataType(), false);
        }
        return new NDList(Ops.linear(pixels, weight, null));
    }
}
