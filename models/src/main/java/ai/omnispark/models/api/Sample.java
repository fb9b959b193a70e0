package ai.omnispark.models.api;

import java.util.List;
import java.util.Map;

/**
 * One training sample as the reader hands it to a family's collator: the columns of one shard row
 * by name. Token rows carry {@code int[]} columns of equal length; media rows add
 * {@code pixel_values} (a {@code List<byte[]>}), {@code media_shapes} ({@code int[][]}) and
 * {@code media_doc_ids} ({@code int[]}). The reader does not interpret them: the collator does.
 */
public record Sample(SampleLayout layout, Map<String, Object> columns) {
    public static final String INPUT_IDS = "input_ids";
    public static final String LABELS = "labels";
    public static final String POSITION_IDS = "position_ids";
    public static final String DOC_IDS = "doc_ids";
    public static final String PIXEL_VALUES = "pixel_values";
    public static final String MEDIA_SHAPES = "media_shapes";
    public static final String MEDIA_DOC_IDS = "media_doc_ids";
    /** A latent row's (C, F, H, W) latents, row-major float32 ({@link SampleLayout#LATENTS}); shape in {@link #LATENT_SHAPE}. */
    public static final String LATENTS = "latents";
    public static final String LATENT_SHAPE = "latent_shape";
    /** A latent row's (L, text_dim) text embedding; shape in {@link #TEXT_EMBEDS_SHAPE}. */
    public static final String TEXT_EMBEDS = "text_embeds";
    public static final String TEXT_EMBEDS_SHAPE = "text_embeds_shape";
    /** Image-to-video: the (C, F, H, W) latents of the conditioning clip (first frame, then zeros), same shape as the latents. */
    public static final String COND_LATENTS = "cond_latents";
    /** Image-to-video, optional: the (257, image_dim) CLIP image embedding; shape in {@link #IMAGE_EMBEDS_SHAPE}. */
    public static final String IMAGE_EMBEDS = "image_embeds";
    public static final String IMAGE_EMBEDS_SHAPE = "image_embeds_shape";
    /** The label of a position that takes no loss. */
    public static final int IGNORE = -100;

    public Sample {
        columns = Map.copyOf(columns);
    }

    /** A packed token row. */
    public static Sample tokens(int[] inputIds, int[] labels, int[] positionIds, int[] docIds) {
        return new Sample(SampleLayout.TOKENS, Map.of(INPUT_IDS, inputIds, LABELS, labels,
                POSITION_IDS, positionIds, DOC_IDS, docIds));
    }

    /**
     * A latent row: {@code latents} (C, F, H, W) and {@code textEmbeds} (L, text_dim), row-major,
     * with their shapes; {@code condLatents} (same shape as the latents) and {@code imageEmbeds}
     * (with {@code imageEmbedsShape}) may be null.
     */
    public static Sample latents(float[] latents, int[] latentShape, float[] textEmbeds, int[] textEmbedsShape,
            float[] condLatents, float[] imageEmbeds, int[] imageEmbedsShape) {
        Map<String, Object> c = new java.util.HashMap<>();
        c.put(LATENTS, latents);
        c.put(LATENT_SHAPE, latentShape);
        c.put(TEXT_EMBEDS, textEmbeds);
        c.put(TEXT_EMBEDS_SHAPE, textEmbedsShape);
        if (condLatents != null) {
            c.put(COND_LATENTS, condLatents);
        }
        if (imageEmbeds != null) {
            c.put(IMAGE_EMBEDS, imageEmbeds);
            c.put(IMAGE_EMBEDS_SHAPE, imageEmbedsShape);
        }
        return new Sample(SampleLayout.LATENTS, c);
    }

    public boolean has(String column) {
        return columns.containsKey(column);
    }

    public int[] ints(String column) {
        return (int[]) column(column);
    }

    public int[][] intRows(String column) {
        return (int[][]) column(column);
    }

    public float[] floats(String column) {
        return (float[]) column(column);
    }

    @SuppressWarnings("unchecked")
    public List<byte[]> blobs(String column) {
        return (List<byte[]>) column(column);
    }

    /** Positions of a token row; for a latent row, its latent elements. */
    public int length() {
        if (layout == SampleLayout.LATENTS) {
            return floats(LATENTS).length;
        }
        return ints(INPUT_IDS).length;
    }

    private Object column(String column) {
        Object v = columns.get(column);
        if (v == null) {
            throw new IllegalArgumentException("a " + layout.key() + " sample has no column '" + column
                    + "'; it has " + columns.keySet());
        }
        return v;
    }
}
