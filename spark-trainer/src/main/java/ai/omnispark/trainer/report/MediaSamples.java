package ai.omnispark.trainer.report;

import ai.omnispark.data.arrow.Manifest;
import ai.omnispark.data.media.FfmpegFrames;
import ai.omnispark.data.media.MediaOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A few inputs of a run's image or video data as inline PNG thumbnails (first frame of a video),
 * read from the raw JSON-lines file the run trained on, or the one its prepared dataset came from.
 */
final class MediaSamples {
    /** One thumbnail: {@code kind} is image or video, {@code dataUri} a {@code data:image/png;base64,...}. */
    record Sample(String kind, String source, String caption, String dataUri) {}

    /** The samples, or why there are none. */
    record Result(List<Sample> samples, String note) {}

    static final int MAX_SAMPLES = 4;
    static final int THUMBNAIL_SIDE = 160;
    private static final int MAX_LINES = 200;
    private static final long MAX_MEDIA_BYTES = 64L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private MediaSamples() {}

    static Result of(FileSystem fs, JsonNode config) throws IOException {
        String dataType = config.path("data.data_type").asText("plaintext");
        String trainPath = config.path("data.train_path").asText("");
        String imageKey = "image";
        String videoKey = "video";
        if (trainPath.isBlank() || trainPath.startsWith("synthetic://")) {
            return new Result(List.of(), "none: the run trained on " + (trainPath.isBlank() ? "no recorded data"
                    : trainPath) + ", which has no image or video rows");
        }
        Path input = new Path(trainPath);
        FileSystem inFs = input.getFileSystem(fs.getConf());
        Optional<Manifest> manifest = inFs.exists(input) && inFs.getFileStatus(input).isDirectory()
                ? Manifest.read(inFs, input) : Optional.empty();
        if (manifest.isPresent()) {
            Manifest m = manifest.get();
            dataType = m.dataType();
            if (m.images() == 0 && m.videos() == 0) {
                return new Result(List.of(), "none: the prepared data at " + trainPath + " has no images or videos");
            }
            Object raw = m.config() == null ? null : m.config().get("input_path");
            if (raw == null || String.valueOf(raw).isBlank() || String.valueOf(raw).equals("dataframe")) {
                return new Result(List.of(), "not shown: the prepared data at " + trainPath + " has "
                        + m.images() + " images and " + m.videos() + " videos, but its raw input is not on record");
            }
            imageKey = String.valueOf(m.config().getOrDefault("image_key", imageKey));
            videoKey = String.valueOf(m.config().getOrDefault("video_key", videoKey));
            input = new Path(String.valueOf(raw));
            inFs = input.getFileSystem(fs.getConf());
        } else if (!dataType.equals("image_text") && !dataType.equals("video_text")) {
            return new Result(List.of(), "none: the run's data (" + dataType + ") has no image or video rows");
        }
        Path file = firstJsonLines(inFs, input);
        if (file == null) {
            return new Result(List.of(), "not shown: no JSON-lines file at " + input);
        }
        List<Sample> samples = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(inFs.open(file), StandardCharsets.UTF_8))) {
            String line;
            for (int n = 0; n < MAX_LINES && samples.size() < MAX_SAMPLES && (line = r.readLine()) != null; n++) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode row = JSON.readTree(line);
                for (String[] kind : new String[][] {{"image", imageKey}, {"video", videoKey}}) {
                    JsonNode ref = first(row.path(kind[1]));
                    if (ref.isMissingNode() || ref.isNull()) {
                        continue;
                    }
                    try {
                        String source = ref.isTextual() ? ref.asText() : "(inline bytes)";
                        byte[] bytes = ref.isTextual() ? read(inFs, file.getParent(), ref.asText())
                                : Base64.getDecoder().decode(ref.path("bytes").asText());
                        samples.add(new Sample(kind[0], source, caption(row), thumbnail(bytes)));
                    } catch (IOException | IllegalArgumentException e) {
                        problems.add(e.getMessage());
                    }
                    break;
                }
            }
        }
        if (samples.isEmpty()) {
            return new Result(List.of(), "not shown: no readable image or video in the first rows of " + file
                    + (problems.isEmpty() ? "" : " (" + problems.get(0) + ")"));
        }
        return new Result(samples, null);
    }

    private static JsonNode first(JsonNode v) {
        return v.isArray() ? v.path(0) : v;
    }

    private static String caption(JsonNode row) {
        if (row.path("text").isTextual()) {
            return row.get("text").asText();
        }
        for (JsonNode m : row.path("messages")) {
            if (m.path("role").asText().matches("assistant|gpt")) {
                return m.path("content").asText();
            }
        }
        return "";
    }

    private static Path firstJsonLines(FileSystem fs, Path input) throws IOException {
        if (!fs.exists(input)) {
            return null;
        }
        if (fs.getFileStatus(input).isFile()) {
            return input;
        }
        for (var status : fs.listStatus(input)) {
            String name = status.getPath().getName();
            if (status.isFile() && (name.endsWith(".jsonl") || name.endsWith(".json"))) {
                return status.getPath();
            }
        }
        return null;
    }

    private static byte[] read(FileSystem fs, Path base, String ref) throws IOException {
        Path p = new Path(ref);
        Path file = p.isAbsolute() || p.toUri().getScheme() != null ? p : new Path(base, ref);
        FileSystem f = file.getFileSystem(fs.getConf());
        long length = f.getFileStatus(file).getLen();
        if (length > MAX_MEDIA_BYTES) {
            throw new IOException(file + " is " + length + " bytes, too big for a thumbnail");
        }
        try (InputStream in = f.open(file)) {
            return in.readAllBytes();
        }
    }

    /** The first picture, scaled to fit {@link #THUMBNAIL_SIDE}, as a PNG data URI. */
    static String thumbnail(byte[] media) throws IOException {
        BufferedImage image = ImageIO.read(new java.io.ByteArrayInputStream(media));
        if (image == null) {
            image = FfmpegFrames.firstImage(media, MediaOptions.DEFAULTS);
        }
        double scale = Math.min(1.0, (double) THUMBNAIL_SIDE / Math.max(image.getWidth(), image.getHeight()));
        int w = Math.max(1, (int) Math.round(image.getWidth() * scale));
        int h = Math.max(1, (int) Math.round(image.getHeight() * scale));
        BufferedImage thumb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = thumb.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(image, 0, 0, w, h, null);
        g.dispose();
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(thumb, "png", png);
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray());
    }
}
