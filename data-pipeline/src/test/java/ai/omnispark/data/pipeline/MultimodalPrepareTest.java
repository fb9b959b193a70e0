package ai.omnispark.data.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.arrow.ShardRow;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.media.MediaFixtures;
import ai.omnispark.data.media.MediaOptions;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.reader.Cursor;
import ai.omnispark.data.reader.ReaderOptions;
import ai.omnispark.data.reader.ShardReader;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.api.SampleLayout;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import java.awt.Color;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MultimodalPrepareTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ByteTokenizer TOKENIZER = new ByteTokenizer();
    private static final int IMAGE_ID = ByteTokenizer.VOCAB_SIZE;
    private static final int VIDEO_ID = ByteTokenizer.VOCAB_SIZE + 1;
    private static final MediaOptions OPTIONS = new MediaOptions(14, 2, 28 * 28, 28 * 28 * 16, 2.0, 4, 2);
    private static SparkSession spark;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.start("multimodal-prepare-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** The text of a document with its placeholder runs removed, and how many placeholders there were. */
    private static String textWithout(int[] tokens, int placeholder) {
        return TOKENIZER.decode(Arrays.stream(tokens).filter(t -> t != placeholder).toArray());
    }

    private static long count(int[] tokens, int id) {
        return Arrays.stream(tokens).filter(t -> t == id).count();
    }

    /** The detail of each rejected record with {@code reason}, by the record's text. */
    private static Map<String, String> rejectDetails(Path dataset, String reason) throws Exception {
        Map<String, String> details = new TreeMap<>();
        try (Stream<Path> files = Files.list(dataset.resolve("rejected"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    JsonNode node = JSON.readTree(line);
                    if (node.get("reason").asText().equals(reason)) {
                        details.put(JSON.readTree(node.get("record").asText()).get("text").asText(),
                                node.get("detail").asText());
                    }
                }
            }
        }
        return details;
    }

    @Test
    void imagesAreResizedStoredAndCountedAsTokens() throws Exception {
        Path media = Files.createDirectories(tmp.resolve("media"));
        Color[][] colours = {{Color.RED, Color.BLUE}, {new Color(1, 2, 3), new Color(250, 251, 252)},
                {Color.GREEN, Color.YELLOW}};
        int[][] sizes = {{56, 84}, {28, 28}, {84, 56}};
        byte[][] pngs = new byte[3][];
        for (int i = 0; i < 3; i++) {
            pngs[i] = MediaFixtures.png(sizes[i][0], sizes[i][1], colours[i][0], colours[i][1]);
            Files.write(media.resolve("img" + i + ".png"), pngs[i]);
        }
        Files.write(media.resolve("truncated.png"), Arrays.copyOf(pngs[0], pngs[0].length / 2));
        byte[] noise = new byte[2000];
        new SplittableRandom(7).nextBytes(noise);
        Files.write(media.resolve("noise.png"), noise);
        // Sparse: 1 GB long, nothing written.
        try (RandomAccessFile huge = new RandomAccessFile(media.resolve("huge.png").toFile(), "rw")) {
            huge.setLength(1L << 30);
        }
        Files.write(media.resolve("claims.png"), MediaFixtures.pngClaiming(100_000, 100_000));

        List<String> lines = new ArrayList<>();
        lines.add(JSON.createObjectNode().put("image", "media/img0.png").put("text", "caption zero").toString());
        lines.add(JSON.createObjectNode().put("image", media.resolve("img1.png").toString())
                .put("text", "caption one").toString());
        ObjectNode inline = JSON.createObjectNode().put("text", "caption two");
        inline.putObject("image").put("bytes", pngs[2]);
        lines.add(inline.toString());
        ObjectNode chat = JSON.createObjectNode().put("image", "media/img0.png");
        var messages = chat.putArray("messages");
        messages.addObject().put("role", "user").put("content", "look: <image> what is it?");
        messages.addObject().put("role", "assistant").put("content", "red over blue.");
        lines.add(chat.toString());
        lines.add(JSON.createObjectNode().put("image", "media/truncated.png").put("text", "broken").toString());
        lines.add(JSON.createObjectNode().put("image", "media/noise.png").put("text", "noise").toString());
        lines.add(JSON.createObjectNode().put("image", "media/nowhere.png").put("text", "missing").toString());
        lines.add(JSON.createObjectNode().put("image", "media/huge.png").put("text", "huge").toString());
        lines.add(JSON.createObjectNode().put("image", "media/claims.png").put("text", "claims").toString());
        Path input = tmp.resolve("image_text.jsonl");
        Files.write(input, lines);

        Path out = tmp.resolve("images");
        PrepareResult result = PreparePipeline.run(spark, PrepareConfig.builder().inputPath(input.toString())
                .dataType(DataType.IMAGE_TEXT).media(OPTIONS).maxSeqLen(160).rowsPerBatch(2).numShards(2)
                .maxRejectRatio(0.6).outputPath(out.toString()).build());
        Manifest manifest = result.manifest();
        assertEquals(9, manifest.inputRecords());
        assertEquals(4, manifest.documents());
        assertEquals(4, manifest.images());
        assertEquals(Map.of("undecodable_image", 2L, "missing_file", 1L, "media_too_large", 2L),
                manifest.rejectedByReason());
        Map<String, String> tooLarge = rejectDetails(out, "media_too_large");
        assertEquals(List.of("claims", "huge"), List.copyOf(tooLarge.keySet()));
        assertTrue(tooLarge.get("huge").contains("1073741824 bytes is over data.max_media_bytes"), tooLarge.get("huge"));
        assertTrue(tooLarge.get("claims").startsWith("media/claims.png: ")
                && tooLarge.get("claims").contains("over data.max_decoded_pixels"), tooLarge.get("claims"));

        Map<String, Integer> expectedImage = Map.of("caption zero", 0, "caption one", 1, "caption two", 2);
        int seen = 0;
        long tokens = 0;
        for (ShardRow row : PreparedShards.rows(out)) {
            for (PreparedShards.Doc doc : PreparedShards.documents(row, ByteTokenizer.PAD)) {
                assertEquals(1, doc.media().size());
                Media m = doc.media().get(0);
                String text = textWithout(doc.tokens(), IMAGE_ID);
                int image = expectedImage.getOrDefault(text, 0);
                assertEquals(1, m.frames());
                assertEquals(sizes[image][0], m.height(), text);
                assertEquals(sizes[image][1], m.width(), text);
                assertEquals(3, m.channels());
                assertEquals((sizes[image][0] / 28) * (sizes[image][1] / 28), count(doc.tokens(), IMAGE_ID),
                        "one placeholder per merged 28x28 patch");
                Color top = colours[image][0];
                Color bottom = colours[image][1];
                assertArrayEquals(new byte[] {(byte) top.getRed(), (byte) top.getGreen(), (byte) top.getBlue()},
                        Arrays.copyOfRange(m.pixels(), 0, 3), text);
                int last = m.pixels().length - 3;
                assertArrayEquals(new byte[] {(byte) bottom.getRed(), (byte) bottom.getGreen(), (byte) bottom.getBlue()},
                        Arrays.copyOfRange(m.pixels(), last, last + 3), text);
                for (int t = 0; t < doc.tokens().length; t++) {
                    if (t + 1 < doc.tokens().length && doc.tokens()[t + 1] == IMAGE_ID) {
                        assertEquals(PackedRow.IGNORE, doc.labels()[t], "image placeholders are never targets");
                    }
                }
                if (text.startsWith("<|im_start|>")) {
                    assertEquals("<|im_start|>user\nlook:  what is it?<|im_end|>\n<|im_start|>assistant\nred over blue."
                            + "<|im_end|>\n", text);
                    int at = 0;
                    while (doc.tokens()[at] != IMAGE_ID) {
                        at++;
                    }
                    assertEquals("<|im_start|>user\nlook: ", TOKENIZER.decode(Arrays.copyOf(doc.tokens(), at)),
                            "the placeholder run replaces <image>");
                } else {
                    assertEquals(ByteTokenizer.EOS, doc.tokens()[doc.tokens().length - 1]);
                    assertTrue(expectedImage.containsKey(text), text);
                }
                tokens += doc.tokens().length;
                seen++;
            }
        }
        assertEquals(4, seen);
        assertEquals(manifest.tokens(), tokens);
        assertReaderSamplesEqualTheShards(out, manifest);
    }

    /**
     * The manifest declares media rows, and the rank-side reader hands out one sample per stored row
     * whose columns are the row's tokens and its media (pixels, THWC shapes, documents), as plain
     * Arrow reads them.
     */
    private static void assertReaderSamplesEqualTheShards(Path out, Manifest manifest) throws Exception {
        assertEquals(SampleLayout.TOKENS_WITH_MEDIA, manifest.layout());
        assertEquals("tokens_with_media",
                JSON.readTree(out.resolve(Manifest.FILE_NAME).toFile()).path("sample_layout").asText());
        Map<String, ShardRow> stored = new HashMap<>();
        for (ShardRow row : PreparedShards.rows(out)) {
            stored.put(Arrays.toString(row.row().inputIds()), row);
        }
        org.apache.hadoop.fs.FileSystem fs = org.apache.hadoop.fs.FileSystem.getLocal(
                new org.apache.hadoop.conf.Configuration()).getRawFileSystem();
        try (ShardReader reader = ShardReader.open(fs, new org.apache.hadoop.fs.Path(out.toUri()),
                ReaderOptions.of(0, 1, 42), Cursor.START)) {
            assertEquals(stored.size(), reader.rowsPerEpoch());
            for (Sample s : reader.next(stored.size())) {
                assertEquals(SampleLayout.TOKENS_WITH_MEDIA, s.layout());
                ShardRow row = stored.remove(Arrays.toString(s.ints(Sample.INPUT_IDS)));
                assertTrue(row != null, "a row read twice or not stored");
                assertArrayEquals(row.row().labels(), s.ints(Sample.LABELS));
                assertArrayEquals(row.row().positionIds(), s.ints(Sample.POSITION_IDS));
                assertArrayEquals(row.row().docIds(), s.ints(Sample.DOC_IDS));
                List<byte[]> pixels = s.blobs(Sample.PIXEL_VALUES);
                assertEquals(row.media().size(), pixels.size());
                for (int k = 0; k < pixels.size(); k++) {
                    Media m = row.media().get(k);
                    assertArrayEquals(m.pixels(), pixels.get(k));
                    assertArrayEquals(new int[] {m.frames(), m.height(), m.width(), m.channels()},
                            s.intRows(Sample.MEDIA_SHAPES)[k]);
                    assertEquals(m.docIndex(), s.ints(Sample.MEDIA_DOC_IDS)[k]);
                }
            }
        }
        assertTrue(stored.isEmpty(), "rows the reader never gave: " + stored.size());
    }

    @Test
    void videosAreSampledAtFpsAndBrokenOnesRejected() throws Exception {
        Path media = Files.createDirectories(tmp.resolve("videos"));
        Files.write(media.resolve("a.mp4"), MediaFixtures.mp4(tmp, 20, 56, 56, 10));
        Files.write(media.resolve("b.mp4"), MediaFixtures.mp4(tmp, 7, 56, 84, 10));
        byte[] noise = new byte[5000];
        new SplittableRandom(3).nextBytes(noise);
        Files.write(media.resolve("noise.mp4"), noise);
        Files.write(media.resolve("absurd.mp4"),
                MediaFixtures.withClaimedFrames(MediaFixtures.mp4(tmp, 20, 56, 56, 10), 2_000_000_000));
        List<String> lines = List.of(
                JSON.createObjectNode().put("video", "videos/a.mp4").put("text", "a fading square.").toString(),
                JSON.createObjectNode().put("video", "videos/b.mp4").put("text", "a short clip.").toString(),
                JSON.createObjectNode().put("video", "videos/noise.mp4").put("text", "noise").toString(),
                JSON.createObjectNode().put("video", "videos/absurd.mp4").put("text", "absurd").toString());
        Path input = tmp.resolve("video_text.jsonl");
        Files.write(input, lines);

        Path out = tmp.resolve("videos-out");
        PrepareResult result = PreparePipeline.run(spark, PrepareConfig.builder().inputPath(input.toString())
                .dataType(DataType.VIDEO_TEXT).media(OPTIONS).maxSeqLen(128).rowsPerBatch(2)
                .maxRejectRatio(0.5).outputPath(out.toString()).build());
        Manifest manifest = result.manifest();
        assertEquals(Map.of("undecodable_video", 1L, "media_too_large", 1L), manifest.rejectedByReason());
        String absurd = rejectDetails(out, "media_too_large").get("absurd");
        assertTrue(absurd != null
                && absurd.contains("the container declares 2000000000 frames, over data.max_video_frames"), absurd);
        assertEquals(2, manifest.videos());
        // a: 2 s at 2 fps capped at 4 frames; b: 0.7 s gives frames at 0 and 0.5 s.
        assertEquals(4 + 2, manifest.frames());

        Map<String, int[]> shapes = new HashMap<>();
        for (ShardRow row : PreparedShards.rows(out)) {
            for (PreparedShards.Doc doc : PreparedShards.documents(row, ByteTokenizer.PAD)) {
                Media m = doc.media().get(0);
                String text = textWithout(doc.tokens(), VIDEO_ID);
                shapes.put(text, new int[] {m.frames(), m.height(), m.width(), m.channels()});
                assertEquals(OPTIONS.tokens(m.frames(), m.height(), m.width()), count(doc.tokens(), VIDEO_ID), text);
                int frameBytes = m.height() * m.width() * 3;
                for (int t = 0; t < m.frames(); t++) {
                    Color expected = MediaFixtures.frameColour(5 * t);
                    double red = 0;
                    for (int i = 0; i < m.height() * m.width(); i++) {
                        red += (m.pixels()[t * frameBytes + 3 * i] & 0xFF);
                    }
                    assertEquals(expected.getRed(), red / (m.height() * m.width()), 8, text + " frame " + t);
                }
            }
        }
        assertArrayEquals(new int[] {4, 56, 56, 3}, shapes.get("a fading square."));
        assertArrayEquals(new int[] {2, 56, 84, 3}, shapes.get("a short clip."));
    }
}
