package ai.omnispark.models.vlm;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Collator;
import ai.omnispark.models.api.ProcessorMedia;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * Packed rows with images and videos to a {@link VlmBatch}. Takes its shape as plain values so the
 * family's config builds it; draws no randomness (a family that adds dropout masks adds them to
 * the returned batch).
 */
public final class VlmCollator implements Collator, ProcessorMedia {
    private final VlmTokens tokens;
    private final VisionGeometry geometry;
    private final int vocabSize;
    private final int headDim;
    private final double ropeTheta;
    private final int[] mropeSection;
    private final int visionHeadDim;

    /**
     * @param headDim the language model's head dim
     * @param mropeSection {@code rope_scaling.mrope_section}, summing to headDim / 2
     * @param visionHeadDim the vision tower's embed_dim / num_heads
     */
    public VlmCollator(VlmTokens tokens, VisionGeometry geometry, int vocabSize, int headDim, double ropeTheta,
            int[] mropeSection, int visionHeadDim) {
        this.tokens = java.util.Objects.requireNonNull(tokens, "tokens");
        this.geometry = java.util.Objects.requireNonNull(geometry, "geometry");
        for (int id : new int[] {tokens.imageTokenId(), tokens.videoTokenId(), tokens.visionStartTokenId(),
            tokens.visionEndTokenId()}) {
            if (id >= vocabSize) {
                throw new IllegalArgumentException("special token id " + id + " " + tokens
                        + " is outside the vocabulary [0, " + vocabSize + ")");
            }
        }
        if (headDim < 2 || headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even and >= 2, got " + headDim);
        }
        MropeTables.sectionRows(mropeSection, headDim / 2);
        VisionRope.checkHeadDim(visionHeadDim);
        this.vocabSize = vocabSize;
        this.headDim = headDim;
        this.ropeTheta = ropeTheta;
        this.mropeSection = mropeSection.clone();
        this.visionHeadDim = visionHeadDim;
    }

    @Override
    public Batch collate(NDManager scope, List<Sample> samples, DataType dtype, RankRandom random) {
        return VlmBatch.build(scope, samples, dtype, tokens, geometry, vocabSize, headDim, ropeTheta, mropeSection,
                visionHeadDim);
    }

    @Override
    public int pixelRowElements() {
        return geometry.patchElements();
    }

    @Override
    public Batch imageBatch(NDManager scope, int[] ids, float[] pixelValues, List<int[]> imageGridThw, DataType dtype) {
        return VlmBatch.fromPatches(scope, ids, pixelValues, imageGridThw, dtype, tokens, geometry, vocabSize, headDim,
                ropeTheta, mropeSection, visionHeadDim);
    }
}
