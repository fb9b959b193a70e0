package ai.omnispark.data.reader;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardRowDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Streams one data-parallel rank's rows of a prepared dataset, without Spark.
 *
 * <p>The order comes from {@link EpochPlan}; a background thread reads and decodes ahead into a
 * bounded queue so the trainer does not wait on I/O. Rows come out as {@link Sample}s of the
 * layout the manifest declares; media rows keep their pixels, shapes and documents; latent rows
 * come as {@link Sample#latents}. Epochs roll
 * over: after the last row of epoch {@code e} comes the first of {@code e + 1}, in a new order.
 * {@link #cursor()} names the next row; opening with that cursor continues with exactly the rows
 * that would have followed.
 *
 * <p>All Arrow memory lives on the prefetch thread and is freed when it ends; what crosses the
 * queue is plain Java arrays.
 */
public final class ShardReader implements AutoCloseable {
    /** Open shard files kept per reader; blocks come in shuffled order, so reopening would cost a footer read each. */
    private static final int MAX_OPEN_SHARDS = 16;

    private record Item(Sample row, Cursor after, Throwable failure) {}

    private final ReaderOptions options;
    private final long[] shardRows;
    private final BlockingQueue<Item> queue;
    private final Thread prefetch;
    private final long rowsPerEpoch;
    private final SampleLayout layout;
    private volatile boolean closed;
    private Cursor cursor;

    private ShardReader(FileSystem fs, Path dataset, Manifest manifest, ReaderOptions options, Cursor start) {
        this.options = options;
        this.layout = manifest.layout();
        if (layout != manifest.schemaLayout()) {
            throw new IllegalArgumentException("the manifest of " + dataset + " declares sample_layout "
                    + layout.key() + " but its shard schema holds " + manifest.schemaLayout().key() + " rows");
        }
        this.shardRows = manifest.shards().stream().mapToLong(ShardInfo::rows).toArray();
        this.rowsPerEpoch = EpochPlan.of(shardRows, manifest.rowsPerBatch(), options.seed(), 0,
                options.dpRank(), options.dpSize()).rows();
        if (rowsPerEpoch == 0) {
            throw new IllegalArgumentException("dataset " + dataset + " gives rank " + options.dpRank() + " of "
                    + options.dpSize() + " no rows: it has " + manifest.rows() + " rows in "
                    + blockCount(manifest) + " record batches; use fewer ranks or a smaller data.rows_per_batch");
        }
        this.cursor = start;
        this.queue = new ArrayBlockingQueue<>(options.prefetchRows());
        this.prefetch = new Thread(() -> produce(fs, dataset, manifest, start),
                "omnispark-shard-prefetch-rank-" + options.dpRank());
        this.prefetch.setDaemon(true);
        this.prefetch.start();
    }

    /** Opens the dataset at {@code dataset} (a directory with {@code manifest.json}) from {@code start}. */
    public static ShardReader open(FileSystem fs, Path dataset, ReaderOptions options, Cursor start) throws IOException {
        Manifest manifest = Manifest.read(fs, dataset).orElseThrow(() -> new IOException(
                dataset + " has no " + Manifest.FILE_NAME + ": it is not a prepared dataset, or preparing it did not finish"));
        return new ShardReader(fs, dataset, manifest, options, start);
    }

    /** Rows this rank reads per epoch (the same for every epoch). */
    public long rowsPerEpoch() {
        return rowsPerEpoch;
    }

    /** What every row of the dataset holds, as its manifest declares. */
    public SampleLayout layout() {
        return layout;
    }

    /** The position of the next row {@link #next()} returns. */
    public Cursor cursor() {
        return cursor;
    }

    public Sample next() throws IOException {
        if (closed) {
            throw new IllegalStateException("reader is closed");
        }
        Item item;
        try {
            item = queue.poll(options.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for data", e);
        }
        if (item == null) {
            throw new IOException("no row from the prefetch thread within " + options.timeout()
                    + " (rank " + options.dpRank() + ", cursor " + cursor + ")");
        }
        if (item.failure() != null) {
            closed = true;
            throw new IOException("reading shards failed at cursor " + cursor + ": " + item.failure().getMessage(),
                    item.failure());
        }
        cursor = item.after();
        return item.row();
    }

    public List<Sample> next(int count) throws IOException {
        List<Sample> rows = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            rows.add(next());
        }
        return rows;
    }

    /** The next {@code count} rows as one flat batch; every row of a dataset has the same length. */
    public ShardBatch nextBatch(int count) throws IOException {
        if (count < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + count);
        }
        if (layout == SampleLayout.LATENTS) {
            throw new IllegalStateException("a latents dataset has no packed token rows; read its samples with next()");
        }
        ShardRow first = ShardRow.of(next());
        int seqLen = first.row().length();
        int[] ids = new int[count * seqLen];
        int[] labels = new int[count * seqLen];
        int[] positions = new int[count * seqLen];
        int[] docs = new int[count * seqLen];
        List<List<Media>> media = new ArrayList<>(count);
        ShardRow row = first;
        for (int r = 0; r < count; r++) {
            if (r > 0) {
                row = ShardRow.of(next());
            }
            if (row.row().length() != seqLen) {
                throw new IOException("rows of one batch differ in length: " + seqLen + " and " + row.row().length());
            }
            System.arraycopy(row.row().inputIds(), 0, ids, r * seqLen, seqLen);
            System.arraycopy(row.row().labels(), 0, labels, r * seqLen, seqLen);
            System.arraycopy(row.row().positionIds(), 0, positions, r * seqLen, seqLen);
            System.arraycopy(row.row().docIds(), 0, docs, r * seqLen, seqLen);
            media.add(row.media());
        }
        return new ShardBatch(count, seqLen, ids, labels, positions, docs, media);
    }

    @Override
    public void close() {
        closed = true;
        // No interrupt: an interrupted FileChannel read inside Arrow leaks the half-read batch.
        // The thread sees the flag within one queue-offer slice or one batch read.
        try {
            prefetch.join(options.timeout().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        queue.clear();
    }

    private void produce(FileSystem fs, Path dataset, Manifest manifest, Cursor start) {
        Map<Integer, ArrowFileReader> open = new LinkedHashMap<>(MAX_OPEN_SHARDS, 0.75f, true);
        ExecutorService decoders = options.decodeThreads() > 1 ? Executors.newFixedThreadPool(options.decodeThreads(),
                r -> {
                    Thread t = new Thread(r, "omnispark-shard-decode-rank-" + options.dpRank());
                    t.setDaemon(true);
                    return t;
                }) : null;
        try (BufferAllocator allocator = new RootAllocator()) {
            try {
                long epoch = start.epoch();
                long skip = start.position();
                while (!closed) {
                    EpochPlan plan = EpochPlan.of(shardRows, manifest.rowsPerBatch(), options.seed(), epoch,
                            options.dpRank(), options.dpSize());
                    if (skip >= plan.rows()) {
                        throw new IllegalArgumentException("cursor " + start + " is past the " + plan.rows()
                                + " rows rank " + options.dpRank() + " reads per epoch");
                    }
                    long position = 0;
                    for (EpochPlan.Block block : plan.blocks()) {
                        int n = block.order().length;
                        if (skip >= position + n) {
                            position += n;
                            continue;
                        }
                        ArrowFileReader reader = shard(fs, dataset, manifest, block.shard(), allocator, open);
                        List<ArrowBlock> batches = reader.getRecordBlocks();
                        if (!reader.loadRecordBatch(batches.get(block.batch()))) {
                            throw new IOException("shard " + manifest.shards().get(block.shard()).path()
                                    + " has no record batch " + block.batch());
                        }
                        VectorSchemaRoot root = reader.getVectorSchemaRoot();
                        if (root.getRowCount() != block.batchRows()) {
                            throw new IOException("shard " + manifest.shards().get(block.shard()).path() + " batch "
                                    + block.batch() + " has " + root.getRowCount() + " rows, the manifest implies "
                                    + block.batchRows());
                        }
                        int from = (int) Math.max(0, skip - position);
                        Sample[] rows = decode(root, block.order(), from, decoders);
                        // Rows are plain arrays now; free the batch rather than keep one per open shard.
                        root.clear();
                        for (int i = from; i < n; i++) {
                            long after = position + i + 1;
                            Cursor next = after == plan.rows() ? new Cursor(epoch + 1, 0) : new Cursor(epoch, after);
                            if (!offer(new Item(rows[i - from], next, null))) {
                                return;
                            }
                        }
                        position += n;
                    }
                    skip = 0;
                    epoch++;
                }
            } finally {
                for (ArrowFileReader reader : open.values()) {
                    closeQuietly(reader);
                }
                if (decoders != null) {
                    decoders.shutdownNow();
                }
            }
        } catch (Throwable t) {
            if (!closed) {
                offer(new Item(null, null, t));
            }
        }
    }

    /** Rows {@code order[from..]} of the loaded batch, decoded on the pool when there is one. */
    private Sample[] decode(VectorSchemaRoot root, int[] order, int from, ExecutorService decoders)
            throws Exception {
        int count = order.length - from;
        Sample[] rows = new Sample[count];
        int threads = decoders == null ? 1 : Math.min(options.decodeThreads(), count);
        if (threads <= 1) {
            for (int i = 0; i < count; i++) {
                rows[i] = ShardRowDecoder.sample(root, order[from + i], layout);
            }
            return rows;
        }
        // The loaded batch is only read, so the threads can share it without locking.
        List<Future<?>> parts = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            int lo = count * t / threads;
            int hi = count * (t + 1) / threads;
            parts.add(decoders.submit(() -> {
                for (int i = lo; i < hi; i++) {
                    rows[i] = ShardRowDecoder.sample(root, order[from + i], layout);
                }
            }));
        }
        for (Future<?> part : parts) {
            try {
                part.get(options.timeout().toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            }
        }
        return rows;
    }

    private ArrowFileReader shard(FileSystem fs, Path dataset, Manifest manifest, int index,
            BufferAllocator allocator, Map<Integer, ArrowFileReader> open) throws IOException {
        ArrowFileReader reader = open.get(index);
        if (reader != null) {
            return reader;
        }
        if (open.size() >= MAX_OPEN_SHARDS) {
            Map.Entry<Integer, ArrowFileReader> eldest = open.entrySet().iterator().next();
            open.remove(eldest.getKey());
            closeQuietly(eldest.getValue());
        }
        ShardInfo info = manifest.shards().get(index);
        Path path = new Path(dataset, info.path());
        reader = new ArrowFileReader(HadoopSeekableChannel.open(fs, path), allocator);
        long expected = (info.rows() + manifest.rowsPerBatch() - 1) / manifest.rowsPerBatch();
        if (reader.getRecordBlocks().size() != expected) {
            long found = reader.getRecordBlocks().size();
            closeQuietly(reader);
            throw new IOException(path + " has " + found + " record batches, the manifest implies " + expected);
        }
        open.put(index, reader);
        return reader;
    }

    /** Waits for queue space in short slices so that {@link #close()} is noticed promptly. */
    private boolean offer(Item item) {
        try {
            while (!closed) {
                if (queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
                    return true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    private static long blockCount(Manifest manifest) {
        long blocks = 0;
        for (ShardInfo s : manifest.shards()) {
            blocks += (s.rows() + manifest.rowsPerBatch() - 1) / manifest.rowsPerBatch();
        }
        return blocks;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Closing a read-only file cannot lose data; the read that mattered already succeeded or failed.
        }
    }
}
