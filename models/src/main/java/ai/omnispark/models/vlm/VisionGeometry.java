package ai.omnispark.models.vlm;

/**
 * How the vision tower cuts media into patches: {@code patchSize}² pixels × {@code temporalPatchSize}
 * frames × {@code inChannels} per patch, and {@code spatialMergeSize}² neighbouring patches merged
 * into one language-model token. The config.json {@code vision_config} fields of the same names.
 */
public record VisionGeometry(int inChannels, int patchSize, int temporalPatchSize, int spatialMergeSize) {
    public VisionGeometry {
        if (inChannels < 1 || patchSize < 1 || temporalPatchSize < 1 || spatialMergeSize < 1) {
            throw new IllegalArgumentException("vision_config in_channels, patch_size, temporal_patch_size and "
                    + "spatial_merge_size must all be >= 1, got " + inChannels + ", " + patchSize + ", "
                    + temporalPatchSize + ", " + spatialMergeSize);
        }
    }

    /** Floats in one row of {@code pixel_values}: C · tp · p · p. */
    public int patchElements() {
        return inChannels * temporalPatchSize * patchSize * patchSize;
    }

    /** Pixels per side of one merged token: patch_size · spatial_merge_size. */
    public int mergedPixels() {
        return patchSize * spatialMergeSize;
    }
}
