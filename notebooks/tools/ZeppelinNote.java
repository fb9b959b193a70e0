import com.google.gson.GsonBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.zeppelin.notebook.Note;
import org.apache.zeppelin.notebook.Paragraph;

/**
 * Reads a Zeppelin note (.zpln) with Zeppelin's own parser ({@code Note.fromJson}, zeppelin-zengine)
 * and writes its paragraphs as Zeppelin would hand them to their interpreters: the interpreter name
 * (the paragraph's {@code %name}, or the note's default group) and the script text without it.
 *
 * <p>Usage: {@code java -cp ZEPPELIN_LIB/* ZeppelinNote.java NOTE.zpln PARAGRAPHS.json}. Exit 1 with
 * the reason when the note does not parse, has no paragraphs, repeats a paragraph id, has an empty
 * paragraph, stores results (notes are committed without them), or needs an interpreter other than
 * those a stock Zeppelin has and that ZeppelinSpark.java runs ({@code spark}, Scala, and {@code md}).
 */
public final class ZeppelinNote {
    private static final Set<String> INTERPRETERS = Set.of("spark", "spark.spark", "md");

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ZeppelinNote NOTE.zpln PARAGRAPHS.json");
            System.exit(2);
        }
        Path notePath = Path.of(args[0]);
        List<String> problems = new ArrayList<>();
        Note note = Note.fromJson(notePath.getFileName().toString(), Files.readString(notePath));
        if (note.getName() == null || note.getName().isBlank()) {
            problems.add("the note has no name");
        }
        if (note.getId() == null || note.getId().isBlank()) {
            problems.add("the note has no id");
        }
        String defaultGroup = note.getDefaultInterpreterGroup();
        if (note.getParagraphs().isEmpty()) {
            problems.add("the note has no paragraphs");
        }
        Set<String> ids = new HashSet<>();
        List<Map<String, String>> out = new ArrayList<>();
        int index = 0;
        for (Paragraph p : note.getParagraphs()) {
            index++;
            String where = "paragraph " + index + " (" + p.getId() + ")";
            if (p.getId() == null || p.getId().isBlank() || !ids.add(p.getId())) {
                problems.add(where + ": missing or repeated id");
            }
            String intp = p.getIntpText() == null || p.getIntpText().isBlank() ? defaultGroup : p.getIntpText();
            if (intp == null || !INTERPRETERS.contains(intp)) {
                problems.add(where + ": interpreter '" + intp + "' is not one of " + INTERPRETERS);
            }
            String script = p.getScriptText();
            if (script == null || script.isBlank()) {
                problems.add(where + ": empty");
            }
            if (p.getReturn() != null) {
                problems.add(where + ": has a stored result; commit notes without results");
            }
            Map<String, String> m = new LinkedHashMap<>();
            m.put("id", p.getId());
            m.put("title", p.getTitle() == null ? "" : p.getTitle());
            m.put("interpreter", intp);
            m.put("script", script == null ? "" : script);
            out.add(m);
        }
        if (!problems.isEmpty()) {
            problems.forEach(p -> System.err.println(notePath + ": " + p));
            System.exit(1);
        }
        Files.createDirectories(Path.of(args[1]).toAbsolutePath().getParent());
        Files.writeString(Path.of(args[1]), new GsonBuilder().setPrettyPrinting().create().toJson(out),
                StandardCharsets.UTF_8);
        System.err.println(notePath + ": Zeppelin parsed '" + note.getName() + "', " + out.size() + " paragraphs");
    }
}
