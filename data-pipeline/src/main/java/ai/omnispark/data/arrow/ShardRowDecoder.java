package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;

/** Turns rows of a loaded shard batch back into {@link ShardRow}s or latent samples, copying lists in bulk. */
public final class ShardRowDecoder {
    private ShardRowDecoder() {}

    /** Row {@code index} as the sample of a dataset of {@code layout}. */
    public static Sample sample(VectorSchemaRoot root, int index, SampleLayout layout) {
        if (layout != SampleLayout.LATENTS) {
            return decode(root, index).sample(layout);
        }
        if (root.getVector(ShardSchema.LATENTS) == null) {
            throw new IllegalArgumentException("the dataset declares latent rows but the shard has no '"
                    + ShardSchema.LATENTS + "' column");
        }
        float[] cond = floats(root, ShardSchema.COND_LATENTS, index);
        float[] image = floats(root, ShardSchema.IMAGE_EMBEDS, index);
        return Sample.latents(floats(root, ShardSchema.LATENTS, index), ints(root, ShardSchema.LATENT_SHAPE, index),
                floats(root, ShardSchema.TEXT_EMBEDS, index), ints(root, ShardSchema.TEXT_EMBEDS_SHAPE, index),
                cond.length == 0 ? null : cond, image.length == 0 ? null : image,
                image.length == 0 ? null : ints(root, ShardSchema.IMAGE_EMBEDS_SHAPE, index));
    }

    public static ShardRow decode(VectorSchemaRoot root, int index) {
        PackedRow row = new PackedRow(
                ints(root, ShardSchema.INPUT_IDS, index),
                ints(root, ShardSchema.LABELS, index),
                ints(root, ShardSchema.POSITION_IDS, index),
                ints(root, ShardSchema.DOC_IDS, index));
        if (root.getVector(ShardSchema.PIXEL_VALUES) == null) {
            return ShardRow.text(row);
        }
        ListVector pixels = (ListVector) root.getVector(ShardSchema.PIXEL_VALUES);
        ListVector shapes = (ListVector) root.getVector(ShardSchema.MEDIA_SHAPES);
        VarBinaryVector bytes = (VarBinaryVector) pixels.getDataVector();
        FixedSizeListVector shape = (FixedSizeListVector) shapes.getDataVector();
        IntVector dims = (IntVector) shape.getDataVector();
        int[] docs = ints(root, ShardSchema.MEDIA_DOC_IDS, index);
        int p = pixels.getOffsetBuffer().getInt((long) index * ListVector.OFFSET_WIDTH);
        int s = shapes.getOffsetBuffer().getInt((long) index * ListVector.OFFSET_WIDTH);
        List<Media> media = new ArrayList<>(docs.length);
        for (int k = 0; k < docs.length; k++) {
            int d = (s + k) * 4;
            media.add(new Media(bytes.get(p + k), dims.get(d), dims.get(d + 1), dims.get(d + 2),
                    dims.get(d + 3), docs[k]));
        }
        return new ShardRow(row, media);
    }

    private static float[] floats(VectorSchemaRoot root, String column, int index) {
        ListVector list = (ListVector) root.getVector(column);
        if (list == null) {
            throw new IllegalArgumentException("shard has no column '" + column + "'");
        }
        int start = list.getOffsetBuffer().getInt((long) index * ListVector.OFFSET_WIDTH);
        int end = list.getOffsetBuffer().getInt((long) (index + 1) * ListVector.OFFSET_WIDTH);
        float[] values = new float[end - start];
        if (values.length > 0) {
            Float4Vector data = (Float4Vector) list.getDataVector();
            data.getDataBuffer().nioBuffer((long) start * Float4Vector.TYPE_WIDTH,
                    values.length * Float4Vector.TYPE_WIDTH).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        }
        return values;
    }

    private static int[] ints(VectorSchemaRoot root, String column, int index) {
        ListVector list = (ListVector) root.getVector(column);
        if (list == null) {
            throw new IllegalArgumentException("shard has no column '" + column + "'");
        }
        int start = list.getOffsetBuffer().getInt((long) index * ListVector.OFFSET_WIDTH);
        int end = list.getOffsetBuffer().getInt((long) (index + 1) * ListVector.OFFSET_WIDTH);
        int[] values = new int[end - start];
        if (values.length > 0) {
            IntVector data = (IntVector) list.getDataVector();
            data.getDataBuffer().nioBuffer((long) start * IntVector.TYPE_WIDTH, values.length * IntVector.TYPE_WIDTH)
                    .order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(values);
        }
        return values;
    }
}
