package ai.omnispark.models.vlm;

/**
 * Stand-in for v2's record (issue 15 contract): the special token ids of a vision-language model.
 * The merge takes v2's version.
 */
public record VlmTokens(int imageTokenId, int videoTokenId, int visionStartTokenId, int visionEndTokenId) {}
