import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jshell.DeclarationSnippet;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * Compiles the code cells of Jupyter notebooks with JShell, as the Java kernel would, without running
 * them: for notebooks CI cannot execute (04-cluster needs a spark:// master).
 *
 * <p>Usage: {@code java -cp CLASSPATH CompileCells.java NOTEBOOK.ipynb ...}; the classpath is the
 * kernel's (OmniSpark's classes and jars). Exit 1, naming the cell and the compiler's message, when a
 * cell does not compile.
 *
 * <p>JShell compiles each snippet against the ones before, so later cells see the types of earlier
 * variables; the execution engine below loads the compiled classes but never invokes them, so no
 * Spark session is started and variables stay unset.
 */
public final class CompileCells {
    /** The Java kernel's own {@code display} function, declared so cells that call it compile. */
    private static final String KERNEL_FUNCTIONS = "String display(Object value) { return \"\"; }";

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: CompileCells NOTEBOOK.ipynb ...");
            System.exit(2);
        }
        int failures = 0;
        for (String notebook : args) {
            failures += compile(Path.of(notebook));
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    private static int compile(Path notebook) throws Exception {
        JsonNode cells = new ObjectMapper().readTree(notebook.toFile()).path("cells");
        if (!cells.isArray() || cells.isEmpty()) {
            System.err.println(notebook + ": no cells (is it a notebook?)");
            return 1;
        }
        try (JShell shell = JShell.builder().executionEngine(new CompileOnly(), Map.of()).build()) {
            for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
                shell.addToClasspath(entry);
            }
            checkAll(shell, shell.eval(KERNEL_FUNCTIONS), notebook, "the kernel's functions");
            int index = 0;
            int compiled = 0;
            for (JsonNode cell : cells) {
                index++;
                if (!"code".equals(cell.path("cell_type").asText())) {
                    continue;
                }
                String source = source(cell);
                String where = "cell " + index;
                if (source.stripLeading().startsWith("%")) {
                    System.err.println(notebook + ": " + where + " is a kernel magic, which this check cannot compile");
                    return 1;
                }
                SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
                String remaining = source;
                while (!remaining.isBlank()) {
                    SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
                    if (info.completeness() != SourceCodeAnalysis.Completeness.COMPLETE
                            && info.completeness() != SourceCodeAnalysis.Completeness.COMPLETE_WITH_SEMI
                            && info.completeness() != SourceCodeAnalysis.Completeness.EMPTY) {
                        System.err.println(notebook + ": " + where + " ends in an incomplete snippet: "
                                + remaining.strip());
                        return 1;
                    }
                    if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) {
                        break;
                    }
                    if (!checkAll(shell, shell.eval(info.source()), notebook, where)) {
                        return 1;
                    }
                    remaining = info.remaining();
                }
                compiled++;
            }
            System.err.println(notebook + ": " + compiled + " code cells compile");
            return 0;
        }
    }

    private static String source(JsonNode cell) {
        JsonNode src = cell.path("source");
        if (src.isArray()) {
            List<String> parts = new ArrayList<>();
            src.forEach(p -> parts.add(p.asText()));
            return String.join("", parts);
        }
        return src.asText();
    }

    private static boolean checkAll(JShell shell, List<SnippetEvent> events, Path notebook, String where) {
        boolean ok = true;
        for (SnippetEvent e : events) {
            if (e.status() == Snippet.Status.REJECTED || e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED
                    || e.status() == Snippet.Status.RECOVERABLE_DEFINED) {
                String diags = shell.diagnostics(e.snippet())
                        .map(d -> d.getMessage(null))
                        .collect(Collectors.joining("; "));
                if (diags.isEmpty() && e.snippet() instanceof DeclarationSnippet declaration) {
                    diags = "unresolved: " + shell.unresolvedDependencies(declaration).collect(Collectors.joining(", "));
                }
                System.err.println(notebook + ": " + where + " does not compile: " + diags + "\n  in: "
                        + e.snippet().source().strip());
                ok = false;
            }
        }
        return ok;
    }

    /** Loads what JShell compiled but runs nothing. */
    private static final class CompileOnly implements ExecutionControlProvider {
        @Override
        public String name() {
            return "compile-only";
        }

        @Override
        public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
            return new DirectExecutionControl() {
                @Override
                public String invoke(String className, String methodName) {
                    return "";
                }

                @Override
                public String varValue(String className, String varName) {
                    return "";
                }
            };
        }
    }
}
