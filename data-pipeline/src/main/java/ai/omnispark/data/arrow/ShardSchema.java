package ai.omnispark.data.arrow;

import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Columns of a shard. Only standard Arrow types, so pyarrow or any other Arrow reader opens the
 * files without OmniSpark:
 *
 * <ul>
 *   <li>{@code input_ids}, {@code labels}, {@code position_ids}, {@code doc_ids}: list&lt;int32&gt;,
 *       one entry per position of the row (see {@link ai.omnispark.data.pack.PackedRow});
 *   <li>with media only: {@code pixel_values} list&lt;binary&gt;, one uint8 THWC buffer per image or
 *       video; {@code media_shapes} list&lt;fixed_size_list&lt;int32, 4&gt;&gt; giving (T, H, W, C);
 *       {@code media_doc_ids} list&lt;int32&gt;, the document of the row each media belongs to.
 * </ul>
 *
 * <p>Latent shards ({@link SampleLayout#LATENTS}, one sample per row) instead hold per tensor a
 * list&lt;float32&gt; of its row-major values and, where its shape varies, a list&lt;int32&gt; shape:
 * {@code latents} + {@code latent_shape} (C, F, H, W), {@code text_embeds} + {@code text_embeds_shape}
 * (L, text_dim), {@code cond_latents} (the latents' shape; empty when the sample has none) and
 * {@code image_embeds} + {@code image_embeds_shape} (N, image_dim; both empty when absent).
 */
public final class ShardSchema {
    public static final String INPUT_IDS = "input_ids";
    public static final String LABELS = "labels";
    public static final String POSITION_IDS = "position_ids";
    public static final String DOC_IDS = "doc_ids";
    public static final String PIXEL_VALUES = "pixel_values";
    public static final String MEDIA_SHAPES = "media_shapes";
    public static final String MEDIA_DOC_IDS = "media_doc_ids";
    public static final String LATENTS = Sample.LATENTS;
    public static final String LATENT_SHAPE = Sample.LATENT_SHAPE;
    public static final String TEXT_EMBEDS = Sample.TEXT_EMBEDS;
    public static final String TEXT_EMBEDS_SHAPE = Sample.TEXT_EMBEDS_SHAPE;
    public static final String COND_LATENTS = Sample.COND_LATENTS;
    public static final String IMAGE_EMBEDS = Sample.IMAGE_EMBEDS;
    public static final String IMAGE_EMBEDS_SHAPE = Sample.IMAGE_EMBEDS_SHAPE;

    private ShardSchema() {}

    /** The schema of a dataset whose rows hold {@code layout}. */
    public static Schema of(SampleLayout layout) {
        if (layout != SampleLayout.LATENTS) {
            return of(layout == SampleLayout.TOKENS_WITH_MEDIA);
        }
        return new Schema(List.of(floatList(LATENTS), intList(LATENT_SHAPE), floatList(TEXT_EMBEDS),
                intList(TEXT_EMBEDS_SHAPE), floatList(COND_LATENTS), floatList(IMAGE_EMBEDS),
                intList(IMAGE_EMBEDS_SHAPE)));
    }

    public static Schema of(boolean withMedia) {
        List<Field> fields = new ArrayList<>();
        fields.add(intList(INPUT_IDS));
        fields.add(intList(LABELS));
        fields.add(intList(POSITION_IDS));
        fields.add(intList(DOC_IDS));
        if (withMedia) {
            fields.add(list(PIXEL_VALUES, new Field("item", FieldType.notNullable(ArrowType.Binary.INSTANCE), null)));
            Field dim = new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null);
            Field shape = new Field("item", FieldType.notNullable(new ArrowType.FixedSizeList(4)), List.of(dim));
            fields.add(list(MEDIA_SHAPES, shape));
            fields.add(intList(MEDIA_DOC_IDS));
        }
        return new Schema(fields);
    }

    public static boolean hasMedia(Schema schema) {
        return schema.getFields().stream().anyMatch(f -> f.getName().equals(PIXEL_VALUES));
    }

    public static boolean hasLatents(Schema schema) {
        return schema.getFields().stream().anyMatch(f -> f.getName().equals(LATENTS));
    }

    private static Field floatList(String name) {
        return list(name, new Field("item", FieldType.notNullable(
                new ArrowType.FloatingPoint(org.apache.arrow.vector.types.FloatingPointPrecision.SINGLE)), null));
    }

    private static Field intList(String name) {
        return list(name, new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null));
    }

    private static Field list(String name, Field item) {
        return new Field(name, FieldType.notNullable(ArrowType.List.INSTANCE), List.of(item));
    }
}
