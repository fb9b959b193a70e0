package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands as a user runs them: through {@link Main#run} with the example configs of
 * {@code conf/examples}, checking what is printed, what is written and the exit status.
 */
class MainCliTest {
    static final Path EXAMPLES = Path.of("..", "conf", "examples");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static Path sample;

    /** What one command printed and returned. */
    record Run(int code, String out, String err) {
        JsonNode lastJson() throws IOException {
            List<String> lines = out.lines().filter(l -> l.startsWith("{")).toList();
            assertFalse(lines.isEmpty(), "no JSON line in:\n" + out + err);
            return JSON.readTree(lines.get(lines.size() - 1));
        }
    }

    static Run main(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeAll
    static void writeSample() throws IOException {
        sample = dir.resolve("sample");
        Run r = main("sample", "--out", sample.toString(), "--documents", "300", "--media", "3");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void helpListsEveryCommand() {
        Run r = main("help");
        assertEquals(0, r.code());
        for (String command : List.of("train CONFIG", "prepare CONFIG", "pipeline CONFIG", "score ", "export-hf ",
                "sample --out", "bench train", "bench fsdp", "bench data", "bench comm", "forward --model", "help")) {
            assertTrue(r.out().contains("  " + command), "help lacks '" + command + "':\n" + r.out());
        }
        Run unknown = main("prepar");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("unknown command 'prepar'"), unknown.err());
    }

    @Test
    void sampleWritesTextImagesAndVideosWithTheirMedia() throws IOException {
        Run r = main("sample", "--out", dir.resolve("own").toString(), "--documents", "20", "--media", "2");
        assertEquals(0, r.code(), r.err());
        JsonNode summary = r.lastJson();
        assertEquals(20, Files.readAllLines(Path.of(summary.get("text").asText())).size());
        List<String> images = Files.readAllLines(Path.of(summary.get("image_text").asText()));
        List<String> videos = Files.readAllLines(Path.of(summary.get("video_text").asText()));
        assertEquals(2, images.size());
        assertEquals(2, videos.size());
        for (String line : images) {
            JsonNode o = JSON.readTree(line);
            BufferedImage png = ImageIO.read(dir.resolve("own").resolve(o.get("image").asText()).toFile());
            assertEquals(112, png.getWidth(), line);
            assertTrue(o.get("text").asText().contains(" "), line);
        }
        for (String line : videos) {
            Path mp4 = dir.resolve("own").resolve(JSON.readTree(line).get("video").asText());
            byte[] head = Files.readAllBytes(mp4);
            // An MP4 opens with a box whose type is 'ftyp'.
            assertEquals("ftyp", new String(head, 4, 4, StandardCharsets.US_ASCII), mp4.toString());
        }
        Run bad = main("sample", "--out", dir.resolve("bad").toString(), "--media", "-1");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--media must be in [0, 10000000], got -1"), bad.err());
    }

    @Test
    void prepareRunsEachExampleOnTheSampleAndSkipsAnUnchangedRerun() throws IOException {
        String[][] kinds = {{"text", "text", "plaintext"}, {"image-text", "image_text", "image_text"},
                {"video-text", "video_text", "video_text"}};
        for (String[] kind : kinds) {
            Path input = sample.resolve(kind[1] + ".jsonl");
            String out = dir.resolve("prep-" + kind[0]).toString();
            String[] argv = {"prepare", EXAMPLES.resolve("prepare-" + kind[0] + ".yaml").toString(),
                    "--set", "data.train_path=" + input, "--set", "data.output_path=" + out};
            Run r = main(argv);
            assertEquals(0, r.code(), r.out() + r.err());
            assertTrue(r.out().contains("data: no manifest at " + out), r.out());
            JsonNode m = r.lastJson();
            long records = Files.readAllLines(input).size();
            assertEquals(kind[2], m.get("data_type").asText());
            assertEquals(records, m.get("input_records").asLong());
            assertEquals(records, m.get("documents").asLong(), "nothing rejected, every record is one document");
            assertEquals(0, m.get("rejected").asLong());
            assertFalse(m.get("skipped").asBoolean());
            assertTrue(Files.isRegularFile(Path.of(out, "manifest.json")));
            // Hand-derived from SyntheticSample: one image per record; each video is 8 frames at
            // 4 fps (2 s), sampled at the default 2 fps = 4 frames.
            assertEquals(kind[1].equals("image_text") ? records : 0, m.get("images").asLong());
            assertEquals(kind[1].equals("video_text") ? records : 0, m.get("videos").asLong());
            assertEquals(kind[1].equals("video_text") ? 4 * records : 0, m.get("frames").asLong());
            // Byte tokenizer: a caption is its UTF-8 bytes plus EOS; a 112x112 image is (112/28)^2 = 16
            // placeholders, a video (4 frames / temporal patch 2) x 16 = 32.
            long placeholders = switch (kind[1]) {
                case "image_text" -> 16;
                case "video_text" -> 32;
                default -> 0;
            };
            long captionBytes = 0;
            for (String line : Files.readAllLines(input)) {
                captionBytes += JSON.readTree(line).get("text").asText().getBytes(StandardCharsets.UTF_8).length;
            }
            assertEquals(captionBytes + records * (1 + placeholders), m.get("tokens").asLong(), kind[1]);

            Run again = main(argv);
            assertEquals(0, again.code(), again.err());
            assertTrue(again.lastJson().get("skipped").asBoolean(), again.out());
            assertEquals(m.get("fingerprint"), again.lastJson().get("fingerprint"));
        }
    }

    @Test
    void prepareRejectsABadKeyAMissingInputAndTooManyBadRecords() throws IOException {
        String config = EXAMPLES.resolve("prepare-text.yaml").toString();
        Run badKey = main("prepare", config, "--set", "data.max_rejects=0.5");
        assertEquals(2, badKey.code());
        assertTrue(badKey.err().contains("unknown key 'data.max_rejects'"), badKey.err());

        Run missing = main("prepare", config, "--set", "data.train_path=" + dir.resolve("nothing.jsonl"),
                "--set", "data.output_path=" + dir.resolve("prep-missing"));
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("data.train_path " + dir.resolve("nothing.jsonl")), missing.err());
        assertTrue(missing.err().contains("matches no file"), missing.err());

        Path broken = dir.resolve("broken.jsonl");
        Files.write(broken, List.of("{\"text\":\"a red circle\"}", "{\"text\":", "not json", "{\"text\":\"ok\"}"));
        Path out = dir.resolve("prep-broken");
        Run rejected = main("prepare", config, "--set", "data.train_path=" + broken, "--set",
                "data.output_path=" + out);
        assertEquals(3, rejected.code(), rejected.out() + rejected.err());
        assertTrue(rejected.err().contains("2 of 4 input records were rejected"), rejected.err());
        assertFalse(Files.exists(out.resolve("manifest.json")), "a rejected dataset is not published");
    }

    @Test
    void trainOnImageShardsIsRefusedBeforeLaunchNamingTheDatasetAndTheFamily() throws IOException {
        Path model = TinyModel.write(dir, true);
        String images = dir.resolve("prep-images-for-llm").toString();
        Run prepared = main("prepare", EXAMPLES.resolve("prepare-image-text.yaml").toString(), "--set",
                "data.train_path=" + sample.resolve("image_text.jsonl"), "--set", "data.output_path=" + images);
        assertEquals(0, prepared.code(), prepared.out() + prepared.err());
        Path out = dir.resolve("llm-on-images");
        Run r = main("train", EXAMPLES.resolve("tiny-llm.yaml").toString(), "--set", "model.config_path=" + model,
                "--set", "data.train_path=" + images, "--set", "train.output_dir=" + out, "--set",
                "train.max_steps=1", "--set", "train.global_batch_size=2", "--set", "train.micro_batch_size=1");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("omnispark: error: dataset " + images
                + " holds tokens_with_media rows; the llm family takes only [tokens]"), r.err());
        assertFalse(Files.exists(out.resolve("metrics.jsonl")), "no rank was launched");

        // Raw image records are refused before the prepare job, which would only make shards no rank takes.
        String raw = sample.resolve("image_text.jsonl").toString();
        Run unprepared = main("train", EXAMPLES.resolve("tiny-llm.yaml").toString(), "--set",
                "model.config_path=" + model, "--set", "data.train_path=" + raw, "--set", "data.data_type=image_text",
                "--set", "data.image_key=image", "--set", "train.output_dir=" + out);
        assertEquals(2, unprepared.code(), unprepared.out() + unprepared.err());
        assertTrue(unprepared.err().contains("omnispark: error: dataset " + raw
                + " holds tokens_with_media rows; the llm family takes only [tokens]"), unprepared.err());
        assertFalse(Files.exists(out.resolve("data")), "nothing was prepared");
    }

    @Test
    void trainPreparesRawInputAndPreparesAgainWhenItChanges() throws IOException {
        Path model = TinyModel.write(dir, true);
        Path text = dir.resolve("raw.jsonl");
        Files.write(text, Files.readAllLines(sample.resolve("text.jsonl")).subList(0, 200));
        String[] argv = {"train", EXAMPLES.resolve("tiny-llm.yaml").toString(), "--set",
                "model.config_path=" + model, "--set", "data.train_path=" + text, "--set", "data.max_seq_len=64",
                "--set", "train.output_dir=" + dir.resolve("run"), "--set", "train.max_steps=2", "--set",
                "train.global_batch_size=2", "--set", "train.micro_batch_size=1", "--set", "train.threads=1",
                "--set", "train.comm_timeout_s=60", "--set", "train.log_steps=1"};
        String prepared = dir.resolve("run").resolve("data").toString();

        Run first = main(argv);
        assertEquals(0, first.code(), first.out() + first.err());
        assertTrue(first.out().contains("data: no manifest at " + prepared + "; preparing " + text), first.out());
        JsonNode end = first.lastJson();
        assertEquals("train_end", end.get("event").asText());
        assertEquals(2, end.get("steps").asLong());
        JsonNode manifest = JSON.readTree(Path.of(prepared, "manifest.json").toFile());
        assertEquals(200, manifest.get("documents").asLong(), "the 200 raw captions were prepared");

        Files.write(text, List.of("{\"text\":\"one more caption of a blue square.\"}"),
                java.nio.file.StandardOpenOption.APPEND);
        Run second = main(argv);
        assertEquals(0, second.code(), second.out() + second.err());
        assertTrue(second.out().contains("data: the manifest at " + prepared + " is stale"), second.out());
        assertEquals(201, JSON.readTree(Path.of(prepared, "manifest.json").toFile()).get("documents").asLong());
    }
}
