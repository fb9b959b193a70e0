package ai.omnispark.models.vlm;

/**
 * Stand-in for v2's record (issue 15 contract): how pixels become patches. The merge takes v2's
 * version.
 */
public record VisionGeometry(int inChannels, int patchSize, int temporalPatchSize, int spatialMergeSize) {}
