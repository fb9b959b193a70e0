import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;

/**
 * Runs the {@code %spark} paragraphs of a Zeppelin note the way Zeppelin's Spark interpreter does:
 * one Scala 2.12 REPL ({@code IMain}, class-based wrappers) for the whole note, with {@code spark}
 * and {@code sc} bound and Zeppelin's default imports, the paragraphs in order; a paragraph whose
 * result is not Success fails the note, as it would stop Zeppelin's "run all".
 *
 * <p>Usage: {@code java OPENS -cp OMNISPARK_JARS:scala-compiler.jar ZeppelinSpark.java PARAGRAPHS.json
 * OUT_DIR} with PARAGRAPHS.json from ZeppelinNote.java. Writes OUT_DIR/results.json (each
 * paragraph's status and output) and OUT_DIR/*.png (the images the note showed through
 * {@code %html <img src="data:image/png;base64,...">}). Exit 1 when a paragraph fails, or when the
 * note showed no image; {@code %md} paragraphs are skipped (Zeppelin renders them, nothing runs).
 *
 * <p>Not covered, because no Zeppelin server runs here: the interpreter process and its settings
 * (spark.jars, driver options, dependencies), ZeppelinContext ({@code z}), forms and the front end.
 */
public final class ZeppelinSpark {
    private static final Pattern PNG = Pattern.compile("data:image/png;base64,([A-Za-z0-9+/=]+)");

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ZeppelinSpark PARAGRAPHS.json OUT_DIR");
            System.exit(2);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode paragraphs = json.readTree(Path.of(args[0]).toFile());
        Path out = Path.of(args[1]);
        Files.createDirectories(out.resolve("repl-classes"));
        PrintStream console = System.out;
        ArrayNode results = json.createArrayNode();
        int images = 0;
        boolean failed = false;
        SparkSession spark = SparkSession.builder().master("local[2]").appName("zeppelin-note-check")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            IMain repl = newRepl(out.resolve("repl-classes"));
            bind(repl, "spark", "org.apache.spark.sql.SparkSession", spark);
            bind(repl, "sc", "org.apache.spark.SparkContext", spark.sparkContext());
            for (String line : new String[] {"import spark.implicits._", "import spark.sql",
                    "import org.apache.spark.SparkContext._"}) {
                if (repl.interpret(line) != Results.Success$.MODULE$) {
                    throw new IllegalStateException("the REPL rejected Zeppelin's default import: " + line);
                }
            }
            int index = 0;
            for (JsonNode p : paragraphs) {
                index++;
                String intp = p.path("interpreter").asText();
                ObjectNode r = results.addObject();
                r.put("id", p.path("id").asText());
                r.put("interpreter", intp);
                if (intp.equals("md")) {
                    r.put("status", "SKIPPED");
                    continue;
                }
                console.println("--- paragraph " + index + ": " + p.path("title").asText());
                ByteArrayOutputStream captured = new ByteArrayOutputStream();
                PrintStream paragraphOut = new PrintStream(captured, true, StandardCharsets.UTF_8);
                Results.Result result;
                System.setOut(paragraphOut);
                scala.Console.setOut(paragraphOut);
                try {
                    result = repl.interpret(p.path("script").asText());
                } finally {
                    System.setOut(console);
                    scala.Console.setOut(console);
                }
                String output = captured.toString(StandardCharsets.UTF_8);
                // Images come back as one long %html line: show the start of each line only.
                output.lines().map(l -> l.length() > 200 ? l.substring(0, 200) + " ..." : l).forEach(console::println);
                r.put("status", result == Results.Success$.MODULE$ ? "FINISHED" : "ERROR");
                r.put("output", output);
                Matcher m = PNG.matcher(output);
                while (m.find()) {
                    byte[] png = Base64.getDecoder().decode(m.group(1));
                    if (ImageIO.read(new ByteArrayInputStream(png)) == null) {
                        System.err.println("paragraph " + index + " shows an image that is not a PNG");
                        failed = true;
                    } else {
                        images++;
                        Files.write(out.resolve(p.path("id").asText() + "-" + images + ".png"), png);
                    }
                }
                if (result != Results.Success$.MODULE$) {
                    System.err.println("paragraph " + index + " (" + p.path("id").asText() + ") failed: "
                            + result + "\n" + p.path("script").asText());
                    failed = true;
                    break;
                }
            }
            repl.close();
        } finally {
            spark.stop();
        }
        Files.writeString(out.resolve("results.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(results));
        if (!failed && images == 0) {
            System.err.println("the note showed no image");
            failed = true;
        }
        System.err.println(failed ? "zeppelin note: FAILED" : "zeppelin note: every paragraph FINISHED, " + images + " image(s)");
        // Spark leaves a non-daemon timer thread behind.
        System.exit(failed ? 1 : 0);
    }

    private static IMain newRepl(Path classDir) {
        scala.tools.nsc.Settings settings = new scala.tools.nsc.Settings();
        // As Zeppelin's SparkScala212Interpreter: class-based wrappers, classes written to a directory.
        settings.processArgumentString("-usejavacp -Yrepl-class-based -Yrepl-outdir " + classDir);
        // The REPL's own output (the values it echoes, compile errors) is part of the paragraph's
        // output, as in Zeppelin: it writes to whatever System.out is at the time.
        OutputStream currentOut = new OutputStream() {
            @Override
            public void write(int b) {
                System.out.write(b);
            }

            @Override
            public void write(byte[] buf, int off, int len) {
                System.out.write(buf, off, len);
            }

            @Override
            public void flush() {
                System.out.flush();
            }
        };
        IMain repl = new IMain(settings, new PrintWriter(currentOut, true));
        repl.initializeSynchronous();
        return repl;
    }

    @SuppressWarnings("unchecked")
    private static void bind(IMain repl, String name, String type, Object value) {
        scala.collection.immutable.List<String> none = (scala.collection.immutable.List<String>) (Object)
                scala.collection.immutable.Nil$.MODULE$;
        if (repl.bind(name, type, value, none) != Results.Success$.MODULE$) {
            throw new IllegalStateException("could not bind " + name + " in the Scala REPL");
        }
    }
}
