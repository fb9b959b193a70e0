package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.pack.DocumentPacker;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.data.tokenizer.HfTokenizer;
import ai.omnispark.data.tokenizer.TinyTokenizerJson;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreparePipelineTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ByteTokenizer TOKENIZER = new ByteTokenizer();
    private static SparkSession spark;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.start("prepare-pipeline-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static Path jsonl(Path file, List<String> lines) throws IOException {
        Files.write(file, lines);
        return file;
    }

    private static String textLine(String key, String text) {
        ObjectNode node = JSON.createObjectNode();
        node.put(key, text);
        return node.toString();
    }

    /** Multiset of decoded documents over all rows. */
    private static Map<String, Integer> decodedDocuments(List<ShardRow> rows) {
        Map<String, Integer> docs = new TreeMap<>();
        for (ShardRow row : rows) {
            for (PreparedShards.Doc doc : PreparedShards.documents(row, ByteTokenizer.PAD)) {
                assertEquals(ByteTokenizer.EOS, doc.tokens()[doc.tokens().length - 1], "documents end with EOS");
                docs.merge(TOKENIZER.decode(doc.tokens()), 1, Integer::sum);
            }
        }
        return docs;
    }

    @Test
    void plainTextSurvivesPackingAndRerunsAreSkipped() throws Exception {
        List<String> texts = SyntheticText.documents(11, 120);
        List<String> lines = new ArrayList<>();
        long tokens = 0;
        Map<String, Integer> expected = new TreeMap<>();
        for (String text : texts) {
            lines.add(textLine("body", text));
            tokens += TOKENIZER.encode(text).length + 1;
            expected.merge(text, 1, Integer::sum);
        }
        Path input = jsonl(tmp.resolve("text.jsonl"), lines);
        Path out = tmp.resolve("prepared");
        PrepareConfig config = PrepareConfig.builder()
                .inputPath(input.toString()).textKeys(List.of("text", "body"))
                .maxSeqLen(256).rowsPerBatch(4).numShards(3).outputPath(out.toString()).build();

        PrepareResult result = PreparePipeline.run(spark, config);
        assertFalse(result.skipped());
        Manifest manifest = PreparedShards.manifest(out);
        assertEquals(120, manifest.inputRecords());
        assertEquals(120, manifest.documents());
        assertEquals(tokens, manifest.tokens());
        assertEquals(0, manifest.rejected());
        assertEquals(3, manifest.shards().size());
        assertEquals(result.manifest(), manifest);
        assertEquals(ai.omnispark.models.api.SampleLayout.TOKENS, manifest.layout());
        assertEquals("tokens", new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(out.resolve(Manifest.FILE_NAME).toFile()).path("sample_layout").asText());

        List<ShardRow> rows = PreparedShards.rows(out);
        assertEquals(expected, decodedDocuments(rows), "every document decodes back to its text, once");
        long labelled = rows.stream().mapToLong(r -> r.row().lossTokens()).sum();
        assertEquals(tokens - 120, labelled, "every token but each document's last is a target");
        assertTrue(manifest.rows() < 120, "documents share rows");

        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(0, files.filter(p -> p.getFileName().toString().contains(".tmp-")).count(),
                    "the work directory was renamed into place");
        }

        PrepareResult again = PreparePipeline.run(spark, config);
        assertTrue(again.skipped(), "same inputs, same config: nothing to do");
        assertEquals(manifest, again.manifest());
        assertEquals(result.manifestPath(), again.manifestPath(), "a skipped run names the same manifest");
        assertEquals(Optional.of(again), PreparePipeline.current(config, spark.sparkContext().hadoopConfiguration()),
                "current() agrees with run() without running Spark");

        PrepareResult changed = PreparePipeline.run(spark, config.toBuilder().rowsPerBatch(3).build());
        assertFalse(changed.skipped());
        assertNotEquals(manifest.fingerprint(), changed.manifest().fingerprint());
        assertEquals(expected, decodedDocuments(PreparedShards.rows(out)));

        // All data-parallel ranks together read every row of the prepared dataset once: the rows
        // they read, as a multiset of row contents, are exactly the rows plain Arrow finds in the
        // shards (a count alone would let one rank repeat a row another rank should have read).
        Map<String, Integer> stored = new HashMap<>();
        for (ShardRow row : PreparedShards.rows(out)) {
            stored.merge(java.util.Arrays.toString(row.row().inputIds()), 1, Integer::sum);
        }
        FileSystem fs = FileSystem.getLocal(new Configuration()).getRawFileSystem();
        Map<String, Integer> seen = new HashMap<>();
        for (int rank = 0; rank < 2; rank++) {
            try (ShardReader reader = ShardReader.open(fs, new org.apache.hadoop.fs.Path(out.toUri()),
                    ReaderOptions.of(rank, 2, 42), Cursor.START)) {
                for (long i = 0; i < reader.rowsPerEpoch(); i++) {
                    ai.omnispark.models.api.Sample row = reader.next();
                    seen.merge(java.util.Arrays.toString(row.ints(ai.omnispark.models.api.Sample.INPUT_IDS)), 1,
                            Integer::sum);
                }
            }
        }
        assertEquals(changed.rows(), stored.values().stream().mapToInt(Integer::intValue).sum());
        List<Integer> misread = new ArrayList<>();
        for (String row : stored.keySet()) {
            int extra = seen.getOrDefault(row, 0) - stored.get(row);
            if (extra != 0) {
                misread.add(extra);
            }
        }
        for (String row : seen.keySet()) {
            if (!stored.containsKey(row)) {
                misread.add(seen.get(row));
            }
        }
        assertTrue(misread.isEmpty(), misread.size() + " distinct rows were read more (+) or less (-) often than the "
                + "shards hold them: " + misread);
    }

    @Test
    void conversationsLearnOnlyAssistantTurns() throws Exception {
        List<String> lines = new ArrayList<>();
        Map<String, String> learnedByPrompt = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            String question = "what shape is number " + i + "?";
            String answer = "shape " + i + " is a " + SyntheticText.SHAPES[i % 3] + ".";
            ObjectNode node = JSON.createObjectNode();
            var messages = node.putArray("conversation");
            messages.addObject().put("role", "system").put("content", "be brief");
            messages.addObject().put("role", "user").put("content", question);
            messages.addObject().put("role", "assistant").put("content", answer);
            messages.addObject().put("role", "user").put("content", "and twice?");
            messages.addObject().put("role", "assistant").put("content", answer + answer);
            lines.add(node.toString());
            learnedByPrompt.put(question, answer + "<|im_end|>\n" + answer + answer + "<|im_end|>\n");
        }
        Path out = tmp.resolve("chat");
        PrepareConfig config = PrepareConfig.builder()
                .inputPath(jsonl(tmp.resolve("chat.jsonl"), lines).toString())
                .dataType(DataType.CONVERSATION).messagesKey("conversation")
                .maxSeqLen(512).rowsPerBatch(8).numShards(2).outputPath(out.toString()).build();
        PrepareResult result = PreparePipeline.run(spark, config);
        assertEquals(30, result.documents());
        int checked = 0;
        for (ShardRow row : PreparedShards.rows(out)) {
            for (PreparedShards.Doc doc : PreparedShards.documents(row, ByteTokenizer.PAD)) {
                String text = TOKENIZER.decode(doc.tokens());
                assertTrue(text.startsWith("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\n"), text);
                String question = text.substring(text.indexOf("user\n") + 5, text.indexOf("<|im_end|>", text.indexOf("user\n")));
                // The targets, gathered in order, spell exactly the assistant turns and their end markers.
                List<Integer> targets = new ArrayList<>();
                for (int label : doc.labels()) {
                    if (label != PackedRow.IGNORE) {
                        targets.add(label);
                    }
                }
                String learned = TOKENIZER.decode(targets.stream().mapToInt(Integer::intValue).toArray());
                assertEquals(learnedByPrompt.get(question), learned, "loss only on assistant turns");
                checked++;
            }
        }
        assertEquals(30, checked);
    }

    @Test
    void badRecordsAreCountedAndWrittenWithTheirReasons() throws Exception {
        List<String> lines = new ArrayList<>();
        for (String text : SyntheticText.documents(3, 40)) {
            lines.add(textLine("text", text));
        }
        lines.add("{\"text\": \"unterminated");
        lines.add("not json at all");
        lines.add(textLine("text", "   "));
        lines.add(textLine("caption", "no text key"));
        lines.add(textLine("text", "x".repeat(300)));
        lines.add("");
        Path input = jsonl(tmp.resolve("bad.jsonl"), lines);
        PrepareConfig config = PrepareConfig.builder().inputPath(input.toString())
                .maxSeqLen(200).overflow(DocumentPacker.Overflow.REJECT).maxRejectRatio(0.2)
                .rowsPerBatch(4).numShards(2).outputPath(tmp.resolve("out").toString()).build();

        PrepareResult result = PreparePipeline.run(spark, config);
        Manifest manifest = result.manifest();
        assertEquals(45, manifest.inputRecords(), "the blank line is not a record");
        assertEquals(Map.of("malformed_json", 2L, "empty_text", 1L, "missing_column", 1L, "too_long", 1L),
                manifest.rejectedByReason());
        assertEquals(5, manifest.rejected());
        assertEquals(40, manifest.documents());
        Map<String, Integer> reasons = new TreeMap<>();
        try (Stream<Path> files = Files.list(tmp.resolve("out").resolve("rejected"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    JsonNode node = JSON.readTree(line);
                    reasons.merge(node.get("reason").asText(), 1, Integer::sum);
                    assertTrue(node.get("source").asText().endsWith("bad.jsonl"));
                    assertFalse(node.get("record").asText().isEmpty());
                }
            }
        }
        assertEquals(Map.of("malformed_json", 2, "empty_text", 1, "missing_column", 1, "too_long", 1), reasons);

        RejectedRecordsException e = assertThrows(RejectedRecordsException.class, () -> PreparePipeline.run(spark,
                config.toBuilder().maxRejectRatio(0.1).outputPath(tmp.resolve("strict").toString()).build()));
        assertEquals(5, e.rejected());
        assertEquals(45, e.inputRecords());
        assertTrue(e.getMessage().contains("5 of 45 input records were rejected"), e.getMessage());
        assertTrue(e.getMessage().contains("malformed_json=2"), e.getMessage());
        assertTrue(e.getMessage().contains(e.rejectedPath()), e.getMessage());
        assertTrue(Files.isDirectory(Path.of(java.net.URI.create(e.rejectedPath()))), e.rejectedPath());
        assertFalse(Files.exists(tmp.resolve("strict").resolve(Manifest.FILE_NAME)), "no dataset is published");
    }

    @Test
    void aTokenizerJsonReplacesTheByteTokenizer() throws Exception {
        Path tokenizerJson = tmp.resolve("tokenizer.json");
        Files.write(tokenizerJson, TinyTokenizerJson.bytes());
        List<String> texts = SyntheticText.documents(8, 30);
        List<String> lines = new ArrayList<>();
        texts.forEach(t -> lines.add(textLine("text", t)));
        Path out = tmp.resolve("hf");
        PrepareResult result = PreparePipeline.run(spark, PrepareConfig.builder()
                .inputPath(jsonl(tmp.resolve("hf.jsonl"), lines).toString()).tokenizerPath(tmp.toString())
                .maxSeqLen(64).rowsPerBatch(4).outputPath(out.toString()).build());
        assertEquals(30, result.documents());
        Map<String, Integer> expected = new TreeMap<>();
        long tokens = 0;
        for (String t : texts) {
            expected.merge(TinyTokenizerJson.spaced(t), 1, Integer::sum);
            tokens += TinyTokenizerJson.spaced(t).split(" ").length + 1;
        }
        assertEquals(tokens, result.tokens());
        assertEquals(TinyTokenizerJson.EOS, ((Number) result.manifest().config().get("eos_id")).intValue());
        Map<String, Integer> decoded = new TreeMap<>();
        try (HfTokenizer tokenizer = HfTokenizer.load(TinyTokenizerJson.bytes(), "tiny")) {
            for (ShardRow row : PreparedShards.rows(out)) {
                for (PreparedShards.Doc doc : PreparedShards.documents(row, TinyTokenizerJson.EOS)) {
                    assertEquals(TinyTokenizerJson.EOS, doc.tokens()[doc.tokens().length - 1]);
                    decoded.merge(tokenizer.decode(doc.tokens()), 1, Integer::sum);
                }
            }
        }
        assertEquals(expected, decoded);
    }

    @Test
    void anInputWithoutRecordsIsAnError() throws Exception {
        Path input = jsonl(tmp.resolve("empty.jsonl"), List.of("", "  "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PreparePipeline.run(spark,
                PrepareConfig.builder().inputPath(input.toString()).outputPath(tmp.resolve("none").toString()).build()));
        assertTrue(e.getMessage().contains("no records"), e.getMessage());
        Files.createDirectories(tmp.resolve("precious"));
        Files.writeString(tmp.resolve("precious").resolve("notes.txt"), "keep me");
        Path good = jsonl(tmp.resolve("one.jsonl"), List.of(textLine("text", "hello")));
        IllegalArgumentException notOurs = assertThrows(IllegalArgumentException.class, () -> PreparePipeline.run(spark,
                PrepareConfig.builder().inputPath(good.toString()).outputPath(tmp.resolve("precious").toString()).build()));
        assertTrue(notOurs.getMessage().contains("not a prepared dataset"), notOurs.getMessage());
        assertEquals("keep me", Files.readString(tmp.resolve("precious").resolve("notes.txt")));
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(0, files.filter(p -> p.getFileName().toString().contains(".tmp-")).count(),
                    "the work directory is removed");
        }
    }

    @Test
    void parquetAndDataFramesAreInputsToo() throws Exception {
        StructType schema = new StructType().add("text", DataTypes.StringType);
        List<Row> data = new ArrayList<>();
        List<String> texts = SyntheticText.documents(5, 25);
        for (String t : texts) {
            data.add(RowFactory.create(t));
        }
        data.add(RowFactory.create((Object) null));
        var df = spark.createDataFrame(data, schema).repartition(2);
        Path parquet = tmp.resolve("parquet");
        df.write().parquet(parquet.toString());
        PrepareConfig config = PrepareConfig.builder().inputPath(parquet.toString()).format(InputFormat.PARQUET)
                .maxSeqLen(200).rowsPerBatch(2).outputPath(tmp.resolve("from-parquet").toString()).build();
        PrepareResult fromParquet = PreparePipeline.run(spark, config);
        assertEquals(25, fromParquet.documents());
        assertEquals(Map.of("missing_column", 1L), fromParquet.manifest().rejectedByReason());
        Map<String, Integer> expected = new TreeMap<>();
        texts.forEach(t -> expected.merge(t, 1, Integer::sum));
        assertEquals(expected, decodedDocuments(PreparedShards.rows(tmp.resolve("from-parquet"))));

        PrepareResult fromDf = PreparePipeline.run(spark, df, config.toBuilder()
                .outputPath(tmp.resolve("from-df").toString()).build());
        assertEquals(25, fromDf.documents());
        assertEquals(expected, decodedDocuments(PreparedShards.rows(tmp.resolve("from-df"))));
    }
}
