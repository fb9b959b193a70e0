package ai.omnispark.trainer.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer, the CLI, the benches, the notebooks and every other module see a model only through
 * {@code ai.omnispark.models.api}: no Java source (main or test) outside the LLM family's package,
 * and no notebook, names the family's classes or imports its package.
 */
class FamilyBoundaryTest {
    /** The repository root, seen from the spark-trainer module that runs this test. */
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    /** The family's own sources and tests, which may name its classes. */
    private static final String FAMILY_DIR = "ai/omnispark/models/llm/";
    /** Spelt in pieces so that this file, which is scanned too, does not name them. */
    private static final String FAMILY_PACKAGE = "ai.omnispark.models." + "llm";
    private static final String DECODER = "Decoder" + "LM";
    private static final List<String> FAMILY_CLASSES = List.of(DECODER, "Decoder" + "Config", "Decoder" + "ConfigJson",
            "Decoder" + "Batch", "Hf" + "Names");
    private static final Pattern FORBIDDEN = Pattern.compile("\\b(" + String.join("|", FAMILY_CLASSES) + ")\\b|"
            + Pattern.quote(FAMILY_PACKAGE) + "\\b");

    @Test
    void noSourceOutsideTheLlmFamilyNamesItsClasses() throws IOException {
        List<String> offences = offences(ROOT);
        assertTrue(offences.isEmpty(), "outside " + FAMILY_DIR + " these files name the LLM family's classes "
                + "(use ai.omnispark.models.api instead):\n" + String.join("\n", offences));
    }

    /** The scan sees every module and would catch the family's names: inside the family they are all over. */
    @Test
    void theScanCoversEveryModuleAndFindsTheNamesWhereTheyAre() throws IOException {
        List<Path> sources = sources(ROOT);
        for (String module : List.of("parallel", "models", "data-pipeline", "spark-trainer")) {
            for (String set : List.of("main", "test")) {
                String prefix = module + "/src/" + set + "/java/";
                assertTrue(sources.stream().anyMatch(p -> ROOT.relativize(p).toString().startsWith(prefix)),
                        "no sources scanned under " + prefix);
            }
        }
        assertTrue(sources.stream().anyMatch(p -> p.toString().endsWith(".ipynb")), "no notebook scanned");
        long familyFilesNamingThem = sources.stream().filter(p -> p.toString().contains(FAMILY_DIR))
                .filter(p -> FORBIDDEN.matcher(read(p)).find()).count();
        assertTrue(familyFilesNamingThem >= 5, "the pattern found the family's names in only "
                + familyFilesNamingThem + " of its own files");
    }

    @Test
    void anOffendingFileIsNamedWithItsLine(@TempDir Path tmp) throws IOException {
        Path file = tmp.resolve("spark-trainer/src/main/java/ai/omnispark/trainer/Bad.java");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "package x;\n\nimport " + FAMILY_PACKAGE + "." + DECODER + ";\nclass Bad {}\n");
        Path allowed = tmp.resolve("models/src/main/java/ai/omnispark/models/llm/Fine.java");
        Files.createDirectories(allowed.getParent());
        Files.writeString(allowed, "class Fine { " + DECODER + " m; }\n");
        Path clean = tmp.resolve("spark-trainer/src/test/java/ai/omnispark/trainer/Clean.java");
        Files.createDirectories(clean.getParent());
        Files.writeString(clean, "class Clean { /* a " + DECODER + "ish word */ }\n");
        List<String> offences = offences(tmp);
        assertEquals(1, offences.size(), offences.toString());
        assertTrue(offences.get(0).startsWith("spark-trainer/src/main/java/ai/omnispark/trainer/Bad.java:3: "),
                offences.get(0));
        assertFalse(offences.get(0).contains("Fine"), offences.get(0));
    }

    /** "file:line: text" of each line outside the family that names it. */
    private static List<String> offences(Path root) throws IOException {
        List<String> offences = new ArrayList<>();
        for (Path p : sources(root)) {
            String rel = root.relativize(p).toString().replace('\\', '/');
            if (rel.startsWith("models/src/main/java/" + FAMILY_DIR) || rel.startsWith("models/src/test/java/" + FAMILY_DIR)) {
                continue;
            }
            String[] lines = read(p).split("\n", -1);
            for (int i = 0; i < lines.length; i++) {
                Matcher m = FORBIDDEN.matcher(lines[i]);
                if (m.find()) {
                    offences.add(rel + ":" + (i + 1) + ": " + lines[i].trim());
                }
            }
        }
        return offences;
    }

    /** The .java files under each module's src/main/java and src/test/java, and the notebooks. */
    private static List<Path> sources(Path root) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> modules = Files.list(root)) {
            for (Path module : modules.filter(Files::isDirectory).sorted().toList()) {
                for (String set : List.of("main", "test")) {
                    Path src = module.resolve("src").resolve(set).resolve("java");
                    if (Files.isDirectory(src)) {
                        try (Stream<Path> walk = Files.walk(src)) {
                            walk.filter(p -> p.toString().endsWith(".java")).sorted().forEach(files::add);
                        }
                    }
                }
            }
        }
        Path notebooks = root.resolve("notebooks");
        if (Files.isDirectory(notebooks)) {
            try (Stream<Path> walk = Files.walk(notebooks)) {
                walk.filter(p -> p.toString().endsWith(".ipynb") || p.toString().endsWith(".zpln")).sorted()
                        .forEach(files::add);
            }
        }
        return files;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
