package ai.omnispark.trainer.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.trainer.cli.MainAccess;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/omnispark report RUN_DIR} on a real run (with a restart and two checkpoints), loaded
 * in headless Chromium: the charts render without console errors; the screenshot stays in
 * {@code target/run-report/report.png}.
 */
class RunReportTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path SCREENSHOTS = Path.of("target", "run-report");

    @TempDir
    Path dir;

    private static String cli(String... argv) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(buf, true, StandardCharsets.UTF_8));
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        return out;
    }

    @Test
    void theReportOfARealRunRendersItsChartsInChromium() throws Exception {
        HeadlessChromium chromium = HeadlessChromium.find(dir);
        Path run = dir.resolve("run");
        Path config = dir.resolve("run.yaml");
        Files.writeString(config, String.join("\n", "model:", "  config_path: " + TinyModel.write(dir, true),
                "data:", "  train_path: synthetic://text", "  max_seq_len: 64",
                "train:", "  output_dir: " + run, "  world_size: 1", "  data_parallel_mode: none",
                "  global_batch_size: 2", "  micro_batch_size: 1", "  max_steps: 8", "  save_steps: 4",
                "  lr_warmup_ratio: 0.25", "  lr_decay_style: cosine", "  threads: 1", "  max_restarts: 1",
                "debug:", "  fail_at_step: 6", ""));
        cli("train", config.toString());
        String out = cli("report", run.toString());
        Path page = Path.of(JSON.readTree(out.lines().filter(l -> l.startsWith("{\"report\"")).findFirst()
                .orElseThrow()).get("report").asText().replaceFirst("^file:", ""));
        assertEquals(run.resolve("report.html"), page);
        String html = Files.readString(page);
        Files.createDirectories(SCREENSHOTS);
        Files.writeString(SCREENSHOTS.resolve("report.html"), html);
        assertFalse(html.matches("(?s).*(src|href)=\"(https?:)?//.*"), "the page must not load anything from the network");

        HeadlessChromium.Result dom = chromium.dumpDom(page);
        assertEquals(List.of(), dom.consoleLines(), "console messages while rendering the report");
        String d = dom.stdout();
        assertTrue(d.contains("data-rendered=\"charts\""), "the chart script did not finish");
        java.util.Map<String, String[]> lines = new java.util.HashMap<>();
        for (String[] chart : ReportPage.CHARTS) {
            Matcher m = Pattern.compile("<svg[^>]*data-series=\"" + chart[0] + "\"[^>]*data-points=\"(\\d+)\"[^>]*>"
                    + "(.*?)</svg>", Pattern.DOTALL).matcher(d);
            assertTrue(m.find(), "no chart of " + chart[0]);
            assertEquals("8", m.group(1), chart[0] + ": one point per step");
            Matcher line = Pattern.compile("<polyline class=\"line\" points=\"([^\"]+)\"").matcher(m.group(2));
            assertTrue(line.find(), chart[0] + " has no line");
            lines.put(chart[0], line.group(1).trim().split(" "));
            assertEquals(8, lines.get(chart[0]).length, chart[0]);
        }
        // The loss curve goes down: its last point is lower on the page (larger y) than its first.
        String[] pts = lines.get("loss");
        assertTrue(Double.parseDouble(pts[7].split(",")[1]) > Double.parseDouble(pts[0].split(",")[1]),
                String.join(" ", pts));
        for (String text : List.of("global_step_4", "global_step_8", "<th>restarts</th><td>1</td>",
                "debug.fail_at_step: rank 0 fails before step 6", "<th>train.lr_decay_style</th><td>cosine</td>",
                "Images and videos: none: the run trained on synthetic://text")) {
            assertTrue(d.contains(text), "the report lacks " + text);
        }

        Path png = SCREENSHOTS.resolve("report.png");
        HeadlessChromium.Result shot = chromium.screenshot(page, png, 1200, 1400);
        assertEquals(List.of(), shot.consoleLines());
        BufferedImage image = ImageIO.read(png.toFile());
        assertEquals(1200, image.getWidth());
        // The curves' stroke (#1f6fd1) is on the screenshot: only the chart lines have that colour.
        int blue = 0;
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                int rgb = image.getRGB(x, y);
                if (Math.abs(((rgb >> 16) & 0xFF) - 0x1f) < 40 && Math.abs(((rgb >> 8) & 0xFF) - 0x6f) < 40
                        && Math.abs((rgb & 0xFF) - 0xd1) < 40) {
                    blue++;
                }
            }
        }
        assertTrue(blue > 500, "only " + blue + " pixels of curve colour in " + png);
    }

    /** The console check can fail: a page whose script breaks is caught. */
    @Test
    void aBrokenChartScriptShowsUpAsAConsoleError() throws Exception {
        HeadlessChromium chromium = HeadlessChromium.find(dir);
        Path run = fakeRun("broken", "plaintext", "synthetic://text");
        cli("report", run.toString());
        Path page = run.resolve("report.html");
        Files.writeString(page, Files.readString(page).replace("JSON.parse(document", "JSON.parse(\"{\" + document"));
        HeadlessChromium.Result dom = chromium.dumpDom(page);
        assertEquals(1, dom.consoleLines().size(), dom.consoleLines().toString());
        assertTrue(dom.consoleLines().get(0).contains("Uncaught SyntaxError"), dom.consoleLines().toString());
        assertFalse(dom.stdout().contains("data-rendered=\"charts\""));
    }

    /** Image and video runs show their first inputs as inline thumbnails (a video's first frame). */
    @Test
    void mediaRunsShowThumbnailsOfTheirInputs() throws Exception {
        Path data = dir.resolve("sample");
        SyntheticSample.write(data, 6, 3);
        for (String kind : List.of("image", "video")) {
            Path run = fakeRun(kind, kind + "_text", data.resolve(kind + "_text.jsonl").toString());
            cli("report", run.toString());
            String html = Files.readString(run.resolve("report.html"));
            Matcher m = Pattern.compile("<img alt=\"" + kind + " ([^\"]+)\" src=\"data:image/png;base64,([^\"]+)\">")
                    .matcher(html);
            List<String> sources = new ArrayList<>();
            while (m.find()) {
                sources.add(m.group(1));
                BufferedImage thumb = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(m.group(2))));
                // Scaled down to fit the thumbnail side, never up: the sample's frames are SIDE pixels.
                assertEquals(Math.min(MediaSamples.THUMBNAIL_SIDE, SyntheticSample.SIDE),
                        Math.max(thumb.getWidth(), thumb.getHeight()));
                // A coloured shape on white: the thumbnail is not blank.
                assertTrue(distinctColours(thumb) >= 2, kind + " thumbnail " + m.group(1) + " is blank: "
                        + distinctColours(thumb) + " colours");
            }
            assertEquals(MediaSamples.MAX_SAMPLES, sources.size(), html);
            assertEquals(String.format("%ss/00000.%s", kind, kind.equals("image") ? "png" : "mp4"), sources.get(0));
        }
    }

    @Test
    void aFolderThatIsNotARunIsRefused() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"report", dir.resolve("nothing").toString()},
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        assertTrue(buf.toString(StandardCharsets.UTF_8).contains("has no metrics.jsonl: give the train.output_dir of a run"),
                buf.toString(StandardCharsets.UTF_8));
    }

    /** A run on prepared image data finds its thumbnails through the raw input the manifest names. */
    @Test
    void aPreparedDatasetLeadsToItsRawInput() throws Exception {
        Path data = dir.resolve("sample");
        SyntheticSample.write(data, 2, 5);
        Path prepared = dir.resolve("prepared");
        Files.createDirectories(prepared);
        new Manifest(Manifest.FORMAT_VERSION, "f", "image_text", 64, 8, 2, 2, 2, 100, 2, 0, 0, 0, Map.of(), List.of(),
                JSON.createObjectNode(), Map.<String, Object>of("input_path", data.resolve("image_text.jsonl").toString(),
                        "image_key", "image")).write(
                org.apache.hadoop.fs.FileSystem.getLocal(new org.apache.hadoop.conf.Configuration()),
                new org.apache.hadoop.fs.Path(prepared.toString()));
        Path run = fakeRun("prepared-run", "plaintext", prepared.toString());
        cli("report", run.toString());
        String html = Files.readString(run.resolve("report.html"));
        assertEquals(2, html.split("<img alt=\"image images/0000", -1).length - 1, html);
    }

    /** A run folder as training leaves it, without the training: metrics, run.json. */
    private Path fakeRun(String name, String dataType, String trainPath) throws IOException {
        Path run = dir.resolve(name);
        Files.createDirectories(run);
        List<String> lines = new ArrayList<>();
        for (int s = 1; s <= 3; s++) {
            lines.add("{\"step\":" + s + ",\"loss\":" + (6.0 - s) + ",\"lr\":0.001,\"grad_norm\":1.5,"
                    + "\"tokens_per_s\":1000.0,\"tokens\":128,\"step_ms\":100.0,\"data_wait_ms\":1.0}");
        }
        Files.write(run.resolve("metrics.jsonl"), lines);
        JsonNode record = JSON.createObjectNode().put("status", "finished").put("world_size", 1)
                .put("config_source", "test").<com.fasterxml.jackson.databind.node.ObjectNode>set("config",
                        JSON.createObjectNode().put("data.data_type", dataType).put("data.train_path", trainPath));
        Files.writeString(run.resolve("run.json"), record.toString());
        return run;
    }

    private static int distinctColours(BufferedImage image) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                colours.add(image.getRGB(x, y));
            }
        }
        return colours.size();
    }
}
