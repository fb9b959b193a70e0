package ai.omnispark.data.arrow;

import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Writes one shard in the Arrow IPC file format (random access to record batches, which the
 * reader's shuffle needs) through the Hadoop FileSystem, so file://, hdfs:// and s3a:// all work.
 *
 * <p>The bytes go to a hidden in-progress file that {@link #finish()} renames to the target, so a
 * failed or retried task never leaves a half-written shard under the final name. {@link #close()}
 * without {@code finish()} deletes the partial file. The writer owns its allocator and root.
 */
public final class ShardWriter implements AutoCloseable {
    private final FileSystem fs;
    private final Path target;
    private final Path inProgress;
    private final int rowsPerBatch;
    private final boolean withMedia;
    private final SampleLayout layout;
    private final BufferAllocator allocator;
    private final VectorSchemaRoot root;
    private final OutputStream out;
    private final MessageDigest digest;
    private final ArrowFileWriter writer;
    private int batchRows;
    private long rows;
    private long documents;
    private long tokens;
    private long images;
    private long videos;
    private long frames;
    private boolean finished;

    public ShardWriter(FileSystem fs, Path target, boolean withMedia, int rowsPerBatch) throws IOException {
        this(fs, target, withMedia ? SampleLayout.TOKENS_WITH_MEDIA : SampleLayout.TOKENS, rowsPerBatch);
    }

    /** A shard of rows of {@code layout}: packed token rows ({@link #write(ShardRow)}) or latent samples ({@link #write(Sample)}). */
    public ShardWriter(FileSystem fs, Path target, SampleLayout layout, int rowsPerBatch) throws IOException {
        if (rowsPerBatch < 1) {
            throw new IllegalArgumentException("data.rows_per_batch must be >= 1, got " + rowsPerBatch);
        }
        this.fs = fs;
        this.target = target;
        this.inProgress = new Path(target.getParent(), "." + target.getName() + ".inprogress-" + UUID.randomUUID());
        this.rowsPerBatch = rowsPerBatch;
        this.layout = layout;
        this.withMedia = layout == SampleLayout.TOKENS_WITH_MEDIA;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        this.allocator = new RootAllocator();
        VectorSchemaRoot r = null;
        OutputStream o = null;
        try {
            r = VectorSchemaRoot.create(ShardSchema.of(layout), allocator);
            o = new DigestOutputStream(fs.create(inProgress, false), digest);
            this.writer = new ArrowFileWriter(r, null, Channels.newChannel(o));
            this.writer.start();
        } catch (IOException | RuntimeException e) {
            if (r != null) {
                r.close();
            }
            if (o != null) {
                o.close();
            }
            fs.delete(inProgress, false);
            allocator.close();
            throw e;
        }
        this.root = r;
        this.out = o;
        root.allocateNew();
    }

    public void write(ShardRow shardRow) throws IOException {
        if (finished) {
            throw new IllegalStateException("shard " + target + " is already finished");
        }
        if (layout == SampleLayout.LATENTS) {
            throw new IllegalArgumentException("shard " + target + " holds latent samples, not packed token rows");
        }
        if (!withMedia && !shardRow.media().isEmpty()) {
            throw new IllegalArgumentException("row has media but shard " + target + " was opened without media columns");
        }
        PackedRow row = shardRow.row();
        int i = batchRows;
        putInts(root.getVector(ShardSchema.INPUT_IDS), i, row.inputIds());
        putInts(root.getVector(ShardSchema.LABELS), i, row.labels());
        putInts(root.getVector(ShardSchema.POSITION_IDS), i, row.positionIds());
        putInts(root.getVector(ShardSchema.DOC_IDS), i, row.docIds());
        if (withMedia) {
            putMedia(i, shardRow);
        }
        int maxDoc = -1;
        for (int d : row.docIds()) {
            if (d >= 0) {
                tokens++;
                maxDoc = Math.max(maxDoc, d);
            }
        }
        documents += maxDoc + 1;
        for (Media m : shardRow.media()) {
            if (m.isVideo()) {
                videos++;
                frames += m.frames();
            } else {
                images++;
            }
        }
        rows++;
        batchRows++;
        if (batchRows == rowsPerBatch) {
            flushBatch();
        }
    }

    /**
     * Writes one latent sample ({@link Sample#latents}) as one row; it counts as one document. Absent
     * cond_latents and image_embeds are written as empty lists.
     */
    public void write(Sample sample) throws IOException {
        if (finished) {
            throw new IllegalStateException("shard " + target + " is already finished");
        }
        if (layout != SampleLayout.LATENTS || sample.layout() != SampleLayout.LATENTS) {
            throw new IllegalArgumentException("shard " + target + " holds " + layout.key() + " rows; got a "
                    + sample.layout().key() + " sample");
        }
        int i = batchRows;
        putFloats(root.getVector(ShardSchema.LATENTS), i, sample.floats(Sample.LATENTS));
        putInts(root.getVector(ShardSchema.LATENT_SHAPE), i, sample.ints(Sample.LATENT_SHAPE));
        putFloats(root.getVector(ShardSchema.TEXT_EMBEDS), i, sample.floats(Sample.TEXT_EMBEDS));
        putInts(root.getVector(ShardSchema.TEXT_EMBEDS_SHAPE), i, sample.ints(Sample.TEXT_EMBEDS_SHAPE));
        putFloats(root.getVector(ShardSchema.COND_LATENTS), i,
                sample.has(Sample.COND_LATENTS) ? sample.floats(Sample.COND_LATENTS) : new float[0]);
        boolean image = sample.has(Sample.IMAGE_EMBEDS);
        putFloats(root.getVector(ShardSchema.IMAGE_EMBEDS), i, image ? sample.floats(Sample.IMAGE_EMBEDS) : new float[0]);
        putInts(root.getVector(ShardSchema.IMAGE_EMBEDS_SHAPE), i,
                image ? sample.ints(Sample.IMAGE_EMBEDS_SHAPE) : new int[0]);
        documents++;
        rows++;
        batchRows++;
        if (batchRows == rowsPerBatch) {
            flushBatch();
        }
    }

    /** Rows written so far. */
    public long rows() {
        return rows;
    }

    /** Writes the footer, renames the file into place and says what it holds. */
    public ShardInfo finish() throws IOException {
        if (finished) {
            throw new IllegalStateException("shard " + target + " is already finished");
        }
        if (batchRows > 0) {
            flushBatch();
        }
        writer.end();
        writer.close();
        out.close();
        finished = true;
        // A retried task may have left a complete shard from an earlier attempt; the new one wins.
        if (fs.exists(target)) {
            fs.delete(target, false);
        }
        if (!fs.rename(inProgress, target)) {
            throw new IOException("could not rename " + inProgress + " to " + target);
        }
        long bytes = fs.getFileStatus(target).getLen();
        String checksum = "sha256:" + HexFormat.of().formatHex(digest.digest());
        return new ShardInfo(target.getName(), rows, documents, tokens, images, videos, frames, bytes, checksum);
    }

    @Override
    public void close() throws IOException {
        try {
            if (!finished) {
                try {
                    writer.close();
                    out.close();
                } finally {
                    fs.delete(inProgress, false);
                }
            }
        } finally {
            root.close();
            allocator.close();
        }
    }

    private void flushBatch() throws IOException {
        root.setRowCount(batchRows);
        writer.writeBatch();
        batchRows = 0;
        // Reusing the root keeps one batch of native memory alive instead of one per batch.
        root.allocateNew();
    }

    private static void putInts(Object vector, int index, int[] values) {
        ListVector list = (ListVector) vector;
        int offset = list.startNewValue(index);
        IntVector data = (IntVector) list.getDataVector();
        for (int j = 0; j < values.length; j++) {
            data.setSafe(offset + j, values[j]);
        }
        list.endValue(index, values.length);
    }

    private static void putFloats(Object vector, int index, float[] values) {
        ListVector list = (ListVector) vector;
        int offset = list.startNewValue(index);
        Float4Vector data = (Float4Vector) list.getDataVector();
        for (int j = 0; j < values.length; j++) {
            data.setSafe(offset + j, values[j]);
        }
        list.endValue(index, values.length);
    }

    private void putMedia(int index, ShardRow shardRow) {
        ListVector pixels = (ListVector) root.getVector(ShardSchema.PIXEL_VALUES);
        ListVector shapes = (ListVector) root.getVector(ShardSchema.MEDIA_SHAPES);
        ListVector docs = (ListVector) root.getVector(ShardSchema.MEDIA_DOC_IDS);
        VarBinaryVector bytes = (VarBinaryVector) pixels.getDataVector();
        FixedSizeListVector shape = (FixedSizeListVector) shapes.getDataVector();
        IntVector dims = (IntVector) shape.getDataVector();
        IntVector docIds = (IntVector) docs.getDataVector();
        int p = pixels.startNewValue(index);
        int s = shapes.startNewValue(index);
        int d = docs.startNewValue(index);
        int n = shardRow.media().size();
        for (int k = 0; k < n; k++) {
            Media m = shardRow.media().get(k);
            bytes.setSafe(p + k, m.pixels());
            int slot = shape.startNewValue(s + k);
            dims.setSafe(slot, m.frames());
            dims.setSafe(slot + 1, m.height());
            dims.setSafe(slot + 2, m.width());
            dims.setSafe(slot + 3, m.channels());
            docIds.setSafe(d + k, m.docIndex());
        }
        pixels.endValue(index, n);
        shapes.endValue(index, n);
        docs.endValue(index, n);
    }
}
