package ai.omnispark.models.vlm;

/**
 * The special token ids of a vision-language row: the placeholder each merged image or video patch
 * occupies, and the markers the prepare step writes around each placeholder run. A media run counts
 * for M-RoPE only when a {@code visionStartTokenId} directly precedes it (transformers'
 * {@code get_rope_index}).
 */
public record VlmTokens(int imageTokenId, int videoTokenId, int visionStartTokenId, int visionEndTokenId) {
    public VlmTokens {
        int[] ids = {imageTokenId, videoTokenId, visionStartTokenId, visionEndTokenId};
        String[] names = {"image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"};
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0) {
                throw new IllegalArgumentException(names[i] + " must be >= 0, got " + ids[i]);
            }
            for (int j = 0; j < i; j++) {
                if (ids[i] == ids[j]) {
                    throw new IllegalArgumentException(names[j] + " and " + names[i] + " are both " + ids[i]
                            + "; each special token needs its own id");
                }
            }
        }
    }

    /** Whether {@code id} is an image or video placeholder. */
    public boolean isPlaceholder(int id) {
        return id == imageTokenId || id == videoTokenId;
    }
}
