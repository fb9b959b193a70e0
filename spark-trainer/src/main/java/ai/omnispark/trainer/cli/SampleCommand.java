package ai.omnispark.trainer.cli;

import ai.omnispark.data.sample.SyntheticText;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code sample --out DIR [--documents N] [--seed S]}: the bundled synthetic text as JSON lines. */
final class SampleCommand {
    private SampleCommand() {}

    static int run(String[] argv, PrintStream out) throws IOException {
        Args args = Args.parse(argv, 0, List.of("out", "documents", "seed"));
        Path dir = Path.of(args.required("out"));
        int documents = Integer.parseInt(args.option("documents", "2000"));
        if (documents <= 0) {
            throw new IllegalArgumentException("--documents must be > 0, got " + documents);
        }
        long seed = Long.parseLong(args.option("seed", "42"));
        Files.createDirectories(dir);
        Path file = dir.resolve("text.jsonl");
        ObjectMapper json = new ObjectMapper();
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (String text : SyntheticText.documents(seed, documents)) {
                w.write(json.writeValueAsString(java.util.Map.of("text", text)));
                w.newLine();
            }
        }
        out.println(json.writeValueAsString(java.util.Map.of("text", file.toString(), "documents", documents)));
        return 0;
    }
}
