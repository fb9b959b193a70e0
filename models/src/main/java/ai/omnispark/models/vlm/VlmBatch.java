package ai.omnispark.models.vlm;

/**
 * Stand-in for v2's class (issue 15 contract): only the batch keys the model reads. The merge
 * takes v2's version (constants and the build).
 */
public final class VlmBatch {
    /** float [N_patches, C*tp*p*p] of every media of every row, in (row, media) order. */
    public static final String PIXEL_VALUES = "pixel_values";
    /** int64 [n_media, 3]. */
    public static final String GRID_THW = "grid_thw";
    /** The vision tower's 2-D rotary tables, [N_patches, vision head_dim]. */
    public static final String VISION_ROPE_COS = "vision_rope_cos";
    public static final String VISION_ROPE_SIN = "vision_rope_sin";
    /** int64 [n_frame_groups]: patches per temporal frame group. */
    public static final String VISION_SEGMENTS = "vision_segments";
    /** int64 [N_merged]: flat (row * S + position) index of each placeholder token, in media order. */
    public static final String MEDIA_TOKEN_INDEX = "media_token_index";

    private VlmBatch() {}
}
