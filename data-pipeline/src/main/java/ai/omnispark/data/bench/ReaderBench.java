package ai.omnispark.data.bench;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardSchema;
import ai.omnispark.data.arrow.ShardWriter;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.models.api.Sample;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reader throughput from local disk: writes a text dataset of about {@code megabytes} MB (skipped
 * when one is already there), then times two epochs of {@link ShardReader} on one rank and prints
 * {@code {"reader_GBps":...}} for the second (steady state) and the first. GB/s counts shard bytes, the on-disk size the trainer streams.
 */
public final class ReaderBench {
    private ReaderBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: ReaderBench DIR [MEGABYTES=1024] [SEQ_LEN=4096]");
            System.exit(2);
        }
        Path dir = new Path(args[0]);
        int megabytes = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        int seqLen = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        System.out.println(run(FileSystem.getLocal(new Configuration()).getRawFileSystem(), dir, megabytes, seqLen));
    }

    public static String run(FileSystem fs, Path dir, int megabytes, int seqLen) throws IOException {
        Manifest manifest = Manifest.read(fs, dir).orElse(null);
        if (manifest == null) {
            manifest = write(fs, dir, megabytes, seqLen);
        }
        long bytes = manifest.shards().stream().mapToLong(ShardInfo::bytes).sum();
        long checksum = 0;
        double[] seconds = new double[2];
        try (ShardReader reader = ShardReader.open(fs, dir, ReaderOptions.of(0, 1, 42).withPrefetchRows(64),
                Cursor.START)) {
            // The first epoch includes JIT warm-up; a training run lives in the steady state of the second.
            for (int epoch = 0; epoch < 2; epoch++) {
                long start = System.nanoTime();
                for (long i = 0; i < reader.rowsPerEpoch(); i++) {
                    Sample row = reader.next();
                    // Touch the data so the JIT cannot drop the reads.
                    checksum += row.ints(Sample.INPUT_IDS)[row.length() - 1] + row.ints(Sample.LABELS)[0];
                }
                seconds[epoch] = (System.nanoTime() - start) / 1e9;
            }
        }
        return String.format(Locale.ROOT, "{\"reader_GBps\":%.3f,\"first_epoch_GBps\":%.3f,\"bytes\":%d,\"rows\":%d,"
                + "\"decode_threads\":%d,\"checksum\":%d}", bytes / seconds[1] / 1e9, bytes / seconds[0] / 1e9, bytes,
                manifest.rows(), ReaderOptions.of(0, 1, 42).decodeThreads(), checksum);
    }

    private static Manifest write(FileSystem fs, Path dir, int megabytes, int seqLen) throws IOException {
        fs.mkdirs(dir);
        long rowBytes = 4L * 4 * seqLen;
        long rows = Math.max(1, (long) megabytes * 1_000_000 / rowBytes);
        int shards = 8;
        SplittableRandom random = new SplittableRandom(1);
        List<ShardInfo> infos = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            long mine = rows / shards + (s < rows % shards ? 1 : 0);
            try (ShardWriter writer = new ShardWriter(fs, new Path(dir, String.format("part-%05d.arrow", s)), false, 64)) {
                for (long r = 0; r < mine; r++) {
                    writer.write(ShardRow.text(row(random, seqLen)));
                }
                infos.add(writer.finish());
            }
        }
        long total = infos.stream().mapToLong(ShardInfo::rows).sum();
        Manifest manifest = new Manifest(Manifest.FORMAT_VERSION, "bench", "plaintext", seqLen, 64, total, total,
                infos.stream().mapToLong(ShardInfo::documents).sum(), infos.stream().mapToLong(ShardInfo::tokens).sum(),
                0, 0, 0, 0, Map.of(), infos, Manifest.schemaJson(ShardSchema.of(false)), Map.of());
        manifest.write(fs, dir);
        return manifest;
    }

    private static PackedRow row(SplittableRandom random, int seqLen) {
        int[] ids = new int[seqLen];
        int[] labels = new int[seqLen];
        int[] pos = new int[seqLen];
        int[] doc = new int[seqLen];
        int d = 0;
        int p = 0;
        for (int t = 0; t < seqLen; t++) {
            ids[t] = random.nextInt(256);
            if (p > 0 && random.nextInt(512) == 0) {
                d++;
                p = 0;
            }
            pos[t] = p++;
            doc[t] = d;
        }
        for (int t = 0; t + 1 < seqLen; t++) {
            labels[t] = doc[t + 1] == doc[t] ? ids[t + 1] : PackedRow.IGNORE;
        }
        labels[seqLen - 1] = PackedRow.IGNORE;
        return new PackedRow(ids, labels, pos, doc);
    }
}
