package ai.omnispark.trainer.cli;

import ai.omnispark.data.sample.SyntheticSample;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code sample --out DIR [--documents N] [--media M] [--seed S]}: the bundled synthetic sample,
 * {@code text.jsonl} (N captions) plus {@code image_text.jsonl} and {@code video_text.jsonl} (M
 * PNGs and M MP4s under {@code images/} and {@code videos/}, paths relative to DIR).
 */
final class SampleCommand {
    private SampleCommand() {}

    static int run(String[] argv, PrintStream out) throws IOException {
        Args args = Args.parse(argv, 0, List.of("out", "documents", "media", "seed"));
        if (!args.positional.isEmpty()) {
            throw new IllegalArgumentException("sample takes only options, got " + args.positional);
        }
        Path dir = Path.of(args.required("out"));
        int documents = count(args, "documents", "2000", 1);
        // Each video is an MP4 encoder run: a few dozen keep `sample` to seconds.
        int media = count(args, "media", "24", 0);
        long seed = parse(args, "seed", "42");
        SyntheticSample.write(dir, documents, media, seed);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("text", dir.resolve("text.jsonl").toString());
        summary.put("image_text", dir.resolve("image_text.jsonl").toString());
        summary.put("video_text", dir.resolve("video_text.jsonl").toString());
        summary.put("documents", documents);
        summary.put("images", media);
        summary.put("videos", media);
        out.println(new ObjectMapper().writeValueAsString(summary));
        return 0;
    }

    private static int count(Args args, String name, String fallback, int min) {
        long v = parse(args, name, fallback);
        if (v < min || v > 10_000_000) {
            throw new IllegalArgumentException("--" + name + " must be in [" + min + ", 10000000], got " + v);
        }
        return (int) v;
    }

    private static long parse(Args args, String name, String fallback) {
        String text = args.option(name, fallback);
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be an integer, got '" + text + "'");
        }
    }
}
