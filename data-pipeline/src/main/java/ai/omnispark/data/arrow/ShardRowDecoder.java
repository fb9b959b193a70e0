package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;

/** Turns rows of a loaded shard batch back into {@link ShardRow}s, copying int lists in bulk. */
public final class ShardRowDecoder {
    private ShardRowDecoder() {}

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
