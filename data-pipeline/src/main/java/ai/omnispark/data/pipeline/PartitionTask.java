package ai.omnispark.data.pipeline;

import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.arrow.ShardWriter;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.pack.Document;
import ai.omnispark.data.pack.DocumentPacker;
import ai.omnispark.data.tokenizer.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;

/**
 * The executor side of prepare: one partition in, one shard (plus its rejects) out. The tokenizer,
 * decoders and JSON parser are built once per partition, never per record.
 */
final class PartitionTask implements MapPartitionsFunction<Row, PartitionStats> {
    /** Column holding the input file of each row; media paths are relative to it. */
    static final String SOURCE_COLUMN = "_omnispark_source";
    /** Column holding the raw line when the input is JSON lines. */
    static final String LINE_COLUMN = "value";

    private final PrepareConfig config;
    private final Broadcast<HadoopConf> hadoop;
    private final String workDir;
    private final boolean jsonLines;

    /** {@code hadoop} is broadcast: a full Hadoop configuration is too big to ship with every task. */
    PartitionTask(PrepareConfig config, Broadcast<HadoopConf> hadoop, String workDir, boolean jsonLines) {
        this.config = config;
        this.hadoop = hadoop;
        this.workDir = workDir;
        this.jsonLines = jsonLines;
    }

    @Override
    public Iterator<PartitionStats> call(Iterator<Row> rows) throws IOException {
        int partition = TaskContext.getPartitionId();
        Configuration conf = hadoop.value().get();
        Path dir = new Path(workDir);
        FileSystem fs = dir.getFileSystem(conf);
        if (config.dataType() == DataType.VIDEO_LATENT) {
            // Latent rows have no tokens: no tokenizer, no packing.
            return List.of(process(rows, partition, conf, fs, dir, null)).iterator();
        }
        Tokenizer tokenizer = TokenizerLoader.load(config, conf);
        try {
            return List.of(process(rows, partition, conf, fs, dir, tokenizer)).iterator();
        } finally {
            TokenizerLoader.close(tokenizer);
        }
    }

    private PartitionStats process(Iterator<Row> rows, int partition, Configuration conf, FileSystem fs, Path dir,
            Tokenizer tokenizer) throws IOException {
        MediaLoader loader = new MediaLoader(conf, config.media().maxMediaBytes());
        boolean latent = config.dataType() == DataType.VIDEO_LATENT;
        SampleBuilder builder = latent ? null : new SampleBuilder(config, tokenizer, loader);
        LatentSampleBuilder latents = latent ? new LatentSampleBuilder(config, conf, loader) : null;
        DocumentPacker packer = latent ? null
                : new DocumentPacker(config.maxSeqLen(), tokenizer.padId(), config.overflow());
        ObjectMapper json = new ObjectMapper();
        Path shardPath = new Path(dir, String.format("part-%05d.arrow", partition));
        Path rejectPath = new Path(new Path(dir, "rejected"), String.format("part-%05d.jsonl", partition));
        long inputRecords = 0;
        ShardInfo shard = null;
        Map<String, Long> rejected;
        try (ShardWriter writer = new ShardWriter(fs, shardPath, config.dataType().sampleLayout(),
                config.rowsPerBatch());
                RejectWriter rejects = new RejectWriter(fs, rejectPath)) {
            Window window = new Window();
            while (rows.hasNext()) {
                Row row = rows.next();
                String source = row.getAs(SOURCE_COLUMN);
                SourceRecord record;
                if (jsonLines) {
                    String line = row.getAs(LINE_COLUMN);
                    if (line == null || line.isBlank()) {
                        continue;
                    }
                    inputRecords++;
                    try {
                        JsonNode node = json.readTree(line);
                        if (node == null || !node.isObject()) {
                            throw new IOException("not a JSON object");
                        }
                        record = new JsonRecord(node, line);
                    } catch (IOException e) {
                        rejects.reject(RejectReason.MALFORMED_JSON, firstLine(e.getMessage()), source, line);
                        continue;
                    }
                } else {
                    inputRecords++;
                    record = new RowRecord(row);
                }
                if (latent) {
                    try {
                        writer.write(latents.build(record, source));
                    } catch (SampleRejected e) {
                        rejects.reject(e.reason(), e.getMessage(), source, record.raw());
                    }
                    continue;
                }
                try {
                    Sample sample = builder.build(record, source);
                    if (!sample.media().isEmpty() && sample.document().length() > config.maxSeqLen()) {
                        // Truncating would cut a media's placeholder run and leave pixels without tokens.
                        throw new SampleRejected(RejectReason.TOO_LONG, "document of " + sample.document().length()
                                + " tokens (with media) is longer than data.max_seq_len=" + config.maxSeqLen());
                    }
                    window.add(sample, record.raw(), source);
                } catch (SampleRejected e) {
                    rejects.reject(e.reason(), e.getMessage(), source, record.raw());
                }
                if (window.size() >= config.packWindow()) {
                    window.flush(packer, writer, rejects);
                }
            }
            if (!latent) {
                window.flush(packer, writer, rejects);
            }
            if (writer.rows() > 0) {
                shard = writer.finish();
            }
            rejected = Map.copyOf(rejects.counts());
        }
        return new PartitionStats(partition, shard, inputRecords, rejected);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unparseable";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    /** Documents waiting to be packed together. */
    private final class Window {
        private final List<Document> documents = new ArrayList<>();
        private final List<List<Media>> media = new ArrayList<>();
        private final List<String> raws = new ArrayList<>();
        private final List<String> sources = new ArrayList<>();

        void add(Sample sample, String raw, String source) {
            documents.add(sample.document());
            media.add(sample.media());
            raws.add(raw);
            sources.add(source);
        }

        int size() {
            return documents.size();
        }

        void flush(DocumentPacker packer, ShardWriter writer, RejectWriter rejects) throws IOException {
            if (documents.isEmpty()) {
                return;
            }
            DocumentPacker.Assignment assignment = packer.assign(documents);
            for (int i : assignment.rejected()) {
                int length = documents.get(i).length();
                if (length == 0) {
                    rejects.reject(RejectReason.EMPTY_TEXT, "the document has no tokens", sources.get(i), raws.get(i));
                } else {
                    rejects.reject(RejectReason.TOO_LONG, "document of " + length
                            + " tokens is longer than data.max_seq_len=" + config.maxSeqLen(), sources.get(i), raws.get(i));
                }
            }
            for (int[] bin : assignment.bins()) {
                List<Document> docs = new ArrayList<>(bin.length);
                List<Media> rowMedia = new ArrayList<>();
                for (int k = 0; k < bin.length; k++) {
                    docs.add(assignment.documents().get(bin[k]));
                    for (Media m : media.get(bin[k])) {
                        rowMedia.add(m.withDocIndex(k));
                    }
                }
                writer.write(new ShardRow(packer.toRow(docs), rowMedia));
            }
            documents.clear();
            media.clear();
            raws.clear();
            sources.clear();
        }
    }
}
