package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardInfo;
import ai.omnispark.data.latent.ByteTextEmbedder;
import ai.omnispark.data.latent.PixelEncoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.media.VideoDecoder;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** video_latent: records in (nested arrays, safetensors references; JSON lines, Parquet), latent shards out. */
class LatentPrepareTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int C = 4;
    private static final int TEXT_DIM = 6;
    private static final int TEXT_LEN = 5;
    private static SparkSession spark;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.start("latent-prepare-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** A tensor as values and shape. */
    private record T(float[] values, int[] shape) {
        static T random(SplittableRandom random, int... shape) {
            int n = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (random.nextDouble() * 4 - 2);
            }
            return new T(v, shape);
        }

        JsonNode nested() {
            return nested(0, 0);
        }

        private JsonNode nested(int depth, int offset) {
            ArrayNode a = JSON.createArrayNode();
            int stride = Arrays.stream(shape, depth + 1, shape.length).reduce(1, (x, y) -> x * y);
            for (int i = 0; i < shape[depth]; i++) {
                if (depth == shape.length - 1) {
                    a.add(values[offset + i]);
                } else {
                    a.add(nested(depth + 1, offset + i * stride));
                }
            }
            return a;
        }
    }

    /** One sample as the test writes it: which tensors, and what the reader must give back. */
    private record Expected(T latents, T text, T cond, T image) {
        float[] paddedText() {
            return Arrays.copyOf(text.values, TEXT_LEN * TEXT_DIM);
        }
    }

    private static List<Expected> samples(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<Expected> out = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int f = 1 + i % 3;
            T latents = T.random(random, C, f, 2, 3);
            T text = T.random(random, 3 + i % 3, TEXT_DIM);
            T cond = i % 2 == 0 ? T.random(random, C, f, 2, 3) : null;
            T image = i % 3 == 0 ? T.random(random, 3, 7) : null;
            out.add(new Expected(latents, text, cond, image));
        }
        return out;
    }

    private PrepareConfig.Builder config(Path input, Path out, InputFormat format) {
        return PrepareConfig.builder().inputPath(input.toString()).outputPath(out.toString()).format(format)
                .dataType(DataType.VIDEO_LATENT).latentChannels(C).textEmbedDim(TEXT_DIM).textEmbedLen(TEXT_LEN)
                .numShards(2).rowsPerBatch(2);
    }

    /** Records whose tensors are nested arrays. */
    private static List<String> inlineRecords(List<Expected> samples) throws Exception {
        List<String> lines = new ArrayList<>();
        for (Expected e : samples) {
            ObjectNode r = JSON.createObjectNode();
            r.set("latents", e.latents.nested());
            r.set("text_embeds", e.text.nested());
            if (e.cond != null) {
                r.set("cond_latents", e.cond.nested());
            }
            if (e.image != null) {
                r.set("image_embeds", e.image.nested());
            }
            lines.add(JSON.writeValueAsString(r));
        }
        return lines;
    }

    /**
     * Records whose tensors are in safetensors files: one file per sample holding all its tensors,
     * named with {path, tensor}; text_embeds alone in its own file, named by path only.
     */
    private static List<String> fileRecords(List<Expected> samples, Path dir, boolean absolute) throws Exception {
        Files.createDirectories(dir.resolve("tensors"));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            Expected e = samples.get(i);
            SafeTensorsWriter all = new SafeTensorsWriter();
            add(all, "lat", e.latents);
            if (e.cond != null) {
                add(all, "cond", e.cond);
            }
            if (e.image != null) {
                add(all, "clip", e.image);
            }
            String allName = "tensors/" + i + ".safetensors";
            String textName = "tensors/" + i + "-text.safetensors";
            all.write(dir.resolve(allName));
            add(new SafeTensorsWriter(), "only", e.text).write(dir.resolve(textName));
            String allPath = absolute ? dir.resolve(allName).toString() : allName;
            ObjectNode r = JSON.createObjectNode();
            r.set("latents", JSON.createObjectNode().put("path", allPath).put("tensor", "lat"));
            r.put("text_embeds", absolute ? dir.resolve(textName).toString() : textName);
            if (e.cond != null) {
                r.set("cond_latents", JSON.createObjectNode().put("path", allPath).put("tensor", "cond"));
            }
            if (e.image != null) {
                r.set("image_embeds", JSON.createObjectNode().put("path", allPath).put("tensor", "clip"));
            }
            lines.add(JSON.writeValueAsString(r));
        }
        return lines;
    }

    private static SafeTensorsWriter add(SafeTensorsWriter w, String name, T t) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(t.values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(t.values);
        return w.add(name, ai.omnispark.parallel.safetensors.SafeDType.F32,
                Arrays.stream(t.shape).asLongStream().toArray(), b);
    }

    /** Every sample of the dataset, through the reader the trainer uses. */
    private static List<Sample> readAll(Path dataset) throws Exception {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        try (ShardReader reader = ShardReader.open(fs, new org.apache.hadoop.fs.Path(dataset.toString()),
                ReaderOptions.of(0, 1, 7), Cursor.START)) {
            assertEquals(SampleLayout.LATENTS, reader.layout());
            return reader.next((int) reader.rowsPerEpoch());
        }
    }

    /** The manifest says latents and video_latent, and every shard's size and sha256 match it. */
    private static Manifest checkManifest(Path dataset, long rows) throws Exception {
        Manifest m = PreparedShards.manifest(dataset);
        assertEquals("latents", m.sampleLayout());
        assertEquals(SampleLayout.LATENTS, m.schemaLayout());
        assertEquals("video_latent", m.dataType());
        assertEquals(rows, m.rows());
        assertEquals(rows, m.documents());
        for (ShardInfo s : m.shards()) {
            byte[] bytes = Files.readAllBytes(dataset.resolve(s.path()));
            assertEquals(s.bytes(), bytes.length);
            assertEquals("sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
                    s.checksum());
        }
        return m;
    }

    /** The read samples are the written ones, bit for bit (text padded to TEXT_LEN rows of zeros). */
    private static void assertSameSamples(List<Expected> expected, List<Sample> read) {
        assertEquals(expected.size(), read.size());
        Map<Integer, Sample> byLatents = new HashMap<>();
        for (Sample s : read) {
            assertEquals(SampleLayout.LATENTS, s.layout());
            byLatents.put(Arrays.hashCode(s.floats(Sample.LATENTS)), s);
        }
        for (Expected e : expected) {
            Sample s = byLatents.get(Arrays.hashCode(e.latents.values));
            assertNotNull(s, "a sample with latents " + Arrays.toString(Arrays.copyOf(e.latents.values, 3)));
            assertArrayEquals(e.latents.values, s.floats(Sample.LATENTS));
            assertArrayEquals(e.latents.shape, s.ints(Sample.LATENT_SHAPE));
            assertArrayEquals(e.paddedText(), s.floats(Sample.TEXT_EMBEDS));
            assertArrayEquals(new int[] {TEXT_LEN, TEXT_DIM}, s.ints(Sample.TEXT_EMBEDS_SHAPE));
            assertEquals(e.cond != null, s.has(Sample.COND_LATENTS));
            if (e.cond != null) {
                assertArrayEquals(e.cond.values, s.floats(Sample.COND_LATENTS));
            }
            assertEquals(e.image != null, s.has(Sample.IMAGE_EMBEDS));
            if (e.image != null) {
                assertArrayEquals(e.image.values, s.floats(Sample.IMAGE_EMBEDS));
                assertArrayEquals(e.image.shape, s.ints(Sample.IMAGE_EMBEDS_SHAPE));
            }
        }
    }

    @Test
    void jsonLinesOfArraysAndOfSafetensorsFilesReadBackBitIdentical() throws Exception {
        List<Expected> samples = samples(1);
        Path in = tmp.resolve("in");
        Files.createDirectories(in);
        List<String> lines = new ArrayList<>(inlineRecords(samples.subList(0, 3)));
        lines.addAll(fileRecords(samples.subList(3, 6), in, false));
        Files.write(in.resolve("records.jsonl"), lines);
        Path out = tmp.resolve("out");
        PrepareResult result = PreparePipeline.run(spark, config(in.resolve("records.jsonl"), out, InputFormat.JSON)
                .build());
        assertEquals(0, result.rejected());
        Manifest m = checkManifest(out, 6);
        assertEquals(C, ((Number) m.config().get("latent_channels")).intValue());
        assertSameSamples(samples, readAll(out));
    }

    @Test
    void parquetOfArraysAndOfSafetensorsFilesReadBackBitIdentical() throws Exception {
        List<Expected> samples = samples(2);
        Path json = tmp.resolve("json");
        Files.createDirectories(json);
        Files.write(json.resolve("arrays.jsonl"), inlineRecords(samples.subList(0, 3)));
        Files.write(json.resolve("files.jsonl"), fileRecords(samples.subList(3, 6), tmp.resolve("files"), true));
        // Spark types the nested arrays array<array<...<double>>> and the references as structs of strings.
        Path parquet = tmp.resolve("parquet");
        spark.read().json(json.resolve("arrays.jsonl").toString()).write().parquet(parquet.resolve("arrays").toString());
        spark.read().json(json.resolve("files.jsonl").toString()).write().parquet(parquet.resolve("files").toString());
        List<Sample> read = new ArrayList<>();
        for (String part : new String[] {"arrays", "files"}) {
            Path out = tmp.resolve("out-" + part);
            PrepareResult result = PreparePipeline.run(spark,
                    config(parquet.resolve(part), out, InputFormat.PARQUET).build());
            assertEquals(0, result.rejected(), part);
            checkManifest(out, 3);
            read.addAll(readAll(out));
        }
        assertSameSamples(samples, read);
    }

    /** The detail of each rejected record, by its "id". */
    private static Map<String, String[]> rejects(Path dataset) throws Exception {
        Map<String, String[]> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dataset.resolve("rejected"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    JsonNode node = JSON.readTree(line);
                    out.put(JSON.readTree(node.get("record").asText()).get("id").asText(),
                            new String[] {node.get("reason").asText(), node.get("detail").asText()});
                }
            }
        }
        return out;
    }

    @Test
    void badRecordsAreRejectedWithTheirReason() throws Exception {
        SplittableRandom random = new SplittableRandom(3);
        Path in = tmp.resolve("in");
        Files.createDirectories(in);
        add(new SafeTensorsWriter(), "lat", T.random(random, C, 1, 2, 2)).write(in.resolve("one.safetensors"));
        T text = T.random(random, 2, TEXT_DIM);
        Map<String, ObjectNode> records = new java.util.LinkedHashMap<>();
        records.put("good", record(T.random(random, C, 1, 2, 2), text, null));
        records.put("rank3", record(T.random(random, C, 2, 2), text, null));
        records.put("channels", record(T.random(random, C + 1, 1, 2, 2), text, null));
        records.put("cond", record(T.random(random, C, 2, 2, 2), text, T.random(random, C, 1, 2, 2)));
        records.put("textdim", record(T.random(random, C, 1, 2, 2), T.random(random, 2, TEXT_DIM + 1), null));
        records.put("textlen", record(T.random(random, C, 1, 2, 2), T.random(random, TEXT_LEN + 1, TEXT_DIM), null));
        ObjectNode noText = JSON.createObjectNode();
        noText.set("latents", T.random(random, C, 1, 2, 2).nested());
        records.put("notext", noText);
        records.put("nothing", JSON.createObjectNode().put("text", "a caption but no video"));
        ObjectNode ragged = record(T.random(random, C, 1, 2, 2), text, null);
        ((ArrayNode) ragged.get("latents").get(1).get(0)).remove(1);
        records.put("ragged", ragged);
        ObjectNode word = record(T.random(random, C, 1, 2, 2), text, null);
        ((ArrayNode) word.get("text_embeds").get(0)).set(0, JSON.getNodeFactory().textNode("x"));
        records.put("word", word);
        ObjectNode missingFile = record(T.random(random, C, 1, 2, 2), text, null);
        missingFile.put("latents", "nowhere.safetensors");
        records.put("missingfile", missingFile);
        ObjectNode missingTensor = record(T.random(random, C, 1, 2, 2), text, null);
        missingTensor.set("latents", JSON.createObjectNode().put("path", "one.safetensors").put("tensor", "other"));
        records.put("missingtensor", missingTensor);
        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, ObjectNode> e : records.entrySet()) {
            lines.add(JSON.writeValueAsString(e.getValue().put("id", e.getKey())));
        }
        Files.write(in.resolve("records.jsonl"), lines);
        Path out = tmp.resolve("out");
        PrepareResult result = PreparePipeline.run(spark, config(in.resolve("records.jsonl"), out, InputFormat.JSON)
                .maxRejectRatio(1.0).build());
        assertEquals(1, result.rows());
        Map<String, String[]> r = rejects(out);
        assertEquals(records.size() - 1, r.size(), r.keySet().toString());
        assertReject(r, "rank3", "bad_tensor", "'latents' has shape [4, 2, 2], expected (C, F, H, W) with C = data.latent_channels = 4");
        assertReject(r, "channels", "bad_tensor", "'latents' has shape [5, 1, 2, 2]");
        assertReject(r, "cond", "bad_tensor", "'cond_latents' has shape [4, 1, 2, 2] but 'latents' has [4, 2, 2, 2]");
        assertReject(r, "textdim", "bad_tensor", "'text_embeds' has shape [2, 7], expected (L, 6)");
        assertReject(r, "textlen", "bad_tensor", "'text_embeds' has shape [6, 6], expected (L, 6) with 1 <= L <= data.text_embed_len = 5");
        assertReject(r, "notext", "missing_column", "the record has 'latents' but no 'text_embeds'");
        assertReject(r, "nothing", "missing_column", "neither 'latents' (precomputed) nor 'video'");
        assertReject(r, "ragged", "bad_tensor", "'latents': ragged array: [1][0] has 1 items where the first branch has 2");
        assertReject(r, "word", "bad_tensor", "'text_embeds': ");
        assertTrue(r.get("word")[1].contains("where a number belongs"), r.get("word")[1]);
        assertReject(r, "missingfile", "missing_file", "'latents': no file at ");
        assertReject(r, "missingtensor", "bad_tensor", "has no tensor 'other'; it has [lat]");
    }

    private static ObjectNode record(T latents, T text, T cond) {
        ObjectNode r = JSON.createObjectNode();
        r.set("latents", latents.nested());
        r.set("text_embeds", text.nested());
        if (cond != null) {
            r.set("cond_latents", cond.nested());
        }
        return r;
    }

    private static void assertReject(Map<String, String[]> rejects, String id, String reason, String detail) {
        String[] r = rejects.get(id);
        assertNotNull(r, id + " was not rejected; rejects: " + rejects.keySet());
        assertEquals(reason, r[0], id + ": " + r[1]);
        assertTrue(r[1].contains(detail), id + ": '" + r[1] + "' does not contain '" + detail + "'");
    }

    @Test
    void imageToVideoWithoutCondLatentsIsRejected() throws Exception {
        SplittableRandom random = new SplittableRandom(4);
        Path in = tmp.resolve("in");
        Files.createDirectories(in);
        ObjectNode r = record(T.random(random, C, 1, 2, 2), T.random(random, 2, TEXT_DIM), null).put("id", "t2v");
        ObjectNode ok = record(T.random(random, C, 1, 2, 2), T.random(random, 2, TEXT_DIM), T.random(random, C, 1, 2, 2))
                .put("id", "i2v");
        Files.write(in.resolve("r.jsonl"), List.of(JSON.writeValueAsString(r), JSON.writeValueAsString(ok)));
        Path out = tmp.resolve("out");
        PreparePipeline.run(spark, config(in.resolve("r.jsonl"), out, InputFormat.JSON).imageToVideo(true)
                .maxRejectRatio(1.0).build());
        assertReject(rejects(out), "t2v", "missing_column", "data.image_to_video is on but the record has no 'cond_latents'");
    }

    /**
     * The embedded default on the bundled sample's videos: each becomes the pixel encoder's latents
     * of its decoded frames and the byte embedding of its caption. The reference is computed here:
     * the video decoded by the media decoder, each 8x8 (x4 frames) block averaged in double; the
     * decoded latents must give that mean colour (within 1 of uint8 rounding).
     */
    @Test
    void sampleVideosPrepareIntoLatentsEndToEnd() throws Exception {
        Path sample = tmp.resolve("sample");
        SyntheticSample.write(sample, 0, 3, 42);
        // 4 fps over the 2 s clips: 8 frames, of which 5 (1 + 4) are encoded into 2 latent frames.
        MediaOptions media = new MediaOptions(14, 2, 56L * 56, 28L * 28 * 1280, 4.0, 16, 1);
        Path out = tmp.resolve("out");
        PrepareResult result = PreparePipeline.run(spark, config(sample.resolve("video_text.jsonl"), out,
                InputFormat.JSON).latentChannels(16).textEmbedDim(8).textEmbedLen(64).media(media).imageToVideo(true)
                .numShards(1).build());
        assertEquals(0, result.rejected());
        checkManifest(out, 3);
        List<Sample> read = readAll(out);
        PixelEncoder encoder = new PixelEncoder(16);
        ByteTextEmbedder embedder = new ByteTextEmbedder(8, 64);
        VideoDecoder decoder = new VideoDecoder(media);
        int matched = 0;
        for (String line : Files.readAllLines(sample.resolve("video_text.jsonl"))) {
            JsonNode record = JSON.readTree(line);
            float[] text = embedder.embed(record.get("text").asText());
            Sample s = read.stream().filter(x -> Arrays.equals(text, x.floats(Sample.TEXT_EMBEDS))).findFirst()
                    .orElseThrow(() -> new AssertionError("no sample with the embedding of " + record));
            matched++;
            Media video = decoder.decode(Files.readAllBytes(sample.resolve(record.get("video").asText())));
            assertEquals(8, video.frames());
            int h = video.height();
            int w = video.width();
            int[] shape = s.ints(Sample.LATENT_SHAPE);
            assertArrayEquals(new int[] {16, 2, h / 8, w / 8}, shape);
            byte[] decoded = encoder.decode(s.floats(Sample.LATENTS), shape);
            int dh = shape[2] * 8;
            int dw = shape[3] * 8;
            byte[] px = video.pixels();
            int[][] frameGroups = {{0}, {1, 2, 3, 4}};
            for (int t = 0; t < 2; t++) {
                for (int y = 0; y < shape[2]; y++) {
                    for (int x = 0; x < shape[3]; x++) {
                        for (int k = 0; k < 3; k++) {
                            double sum = 0;
                            for (int f : frameGroups[t]) {
                                for (int dy = 0; dy < 8; dy++) {
                                    for (int dx = 0; dx < 8; dx++) {
                                        sum += px[((f * h + y * 8 + dy) * w + x * 8 + dx) * 3 + k] & 0xFF;
                                    }
                                }
                            }
                            double mean = sum / (frameGroups[t].length * 64);
                            int f0 = frameGroups[t][0];
                            int got = decoded[((f0 * dh + y * 8) * dw + x * 8) * 3 + k] & 0xFF;
                            assertEquals(mean, got, 0.5 + 1e-3, "t=" + t + " y=" + y + " x=" + x + " k=" + k);
                        }
                    }
                }
            }
            // Image-to-video: the condition is the first latent frame, then zeros.
            float[] latents = s.floats(Sample.LATENTS);
            float[] cond = s.floats(Sample.COND_LATENTS);
            int plane = shape[2] * shape[3];
            for (int c = 0; c < 16; c++) {
                assertArrayEquals(Arrays.copyOfRange(latents, c * 2 * plane, c * 2 * plane + plane),
                        Arrays.copyOfRange(cond, c * 2 * plane, c * 2 * plane + plane));
                assertArrayEquals(new float[plane], Arrays.copyOfRange(cond, c * 2 * plane + plane, (c + 1) * 2 * plane));
            }
            assertFalse(s.has(Sample.IMAGE_EMBEDS));
        }
        assertEquals(3, matched);
    }
}
