package ai.omnispark.data.pipeline;

import java.util.Locale;

/** {@code data.data_type}: what one input record holds. */
public enum DataType {
    /** Plain text for pre-training: every token is learned. */
    PLAINTEXT,
    /** Chat messages ({@code role}, {@code content}); only assistant turns are learned. */
    CONVERSATION,
    /** One or more images with a caption or a conversation holding {@code <image>} placeholders. */
    IMAGE_TEXT,
    /** One video with a caption or a conversation holding a {@code <video>} placeholder. */
    VIDEO_TEXT,
    /**
     * Precomputed video latents and text embeddings of a diffusion model (one sample per row, no
     * tokens), or videos with captions that the built-in pixel encoder and byte text embedder turn
     * into them; see docs/wan.md.
     */
    VIDEO_LATENT;

    public static DataType parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("data.data_type must be plaintext, conversation, image_text, "
                    + "video_text or video_latent, got '" + text + "'", e);
        }
    }

    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean hasMedia() {
        return this == IMAGE_TEXT || this == VIDEO_TEXT;
    }

    /** What the rows prepared from this data type hold (the manifest's {@code sample_layout}). */
    public ai.omnispark.models.api.SampleLayout sampleLayout() {
        if (this == VIDEO_LATENT) {
            return ai.omnispark.models.api.SampleLayout.LATENTS;
        }
        return hasMedia() ? ai.omnispark.models.api.SampleLayout.TOKENS_WITH_MEDIA
                : ai.omnispark.models.api.SampleLayout.TOKENS;
    }
}
