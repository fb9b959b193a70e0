package ai.omnispark.models.api;

/**
 * What the rows of a prepared dataset hold, as its manifest declares it. A model family lists the
 * layouts its collator takes, so a mismatch fails before launch instead of in the first batch.
 */
public enum SampleLayout {
    /** Packed token rows: input_ids, labels, position_ids, doc_ids. */
    TOKENS,
    /** Packed token rows whose documents carry images or video frames (pixel_values, media_shapes, media_doc_ids). */
    TOKENS_WITH_MEDIA,
    /** Latent rows of a diffusion model (a later family). */
    LATENTS;

    /** The name a manifest and the error messages use: lower case. */
    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static SampleLayout parse(String key) {
        for (SampleLayout l : values()) {
            if (l.key().equals(key)) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown sample layout '" + key + "'; known: "
                + java.util.Arrays.stream(values()).map(SampleLayout::key).toList());
    }
}
