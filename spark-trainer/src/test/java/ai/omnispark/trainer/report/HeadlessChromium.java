package ai.omnispark.trainer.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's {@code chromium} run headless on a local page: the DOM after its scripts ran, the
 * console messages it logged (Chromium writes each as an {@code INFO:CONSOLE} line on stderr with
 * {@code --enable-logging=stderr}), and screenshots. Skips outside CI when chromium is absent;
 * fails in CI, whose .ci/run installs it.
 */
final class HeadlessChromium {
    record Result(String stdout, List<String> consoleLines) {}

    private static final long TIMEOUT_S = 120;
    private final String binary;
    private final Path scratch;

    private HeadlessChromium(String binary, Path scratch) {
        this.binary = binary;
        this.scratch = scratch;
    }

    static HeadlessChromium find(Path scratch) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            for (String name : List.of("chromium", "chromium-browser")) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) {
                    return new HeadlessChromium(p.toString(), scratch);
                }
            }
        }
        String why = "no chromium on PATH (apt-get install -y chromium)";
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(why);
        }
        Assumptions.abort(why);
        return null;
    }

    /** The serialised DOM once the page's scripts ran, and every console line. */
    Result dumpDom(Path page) throws IOException, InterruptedException {
        return run(page, List.of("--dump-dom"));
    }

    Result screenshot(Path page, Path png, int width, int height) throws IOException, InterruptedException {
        Files.createDirectories(png.toAbsolutePath().getParent());
        return run(page, List.of("--screenshot=" + png.toAbsolutePath(), "--window-size=" + width + "," + height,
                "--hide-scrollbars"));
    }

    private Result run(Path page, List<String> mode) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(scratch, "chromium-profile");
        Path out = scratch.resolve(profile.getFileName() + ".out");
        Path err = scratch.resolve(profile.getFileName() + ".err");
        List<String> cmd = new ArrayList<>(List.of(binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"));
        cmd.addAll(mode);
        cmd.add(page.toAbsolutePath().toUri().toString());
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("chromium did not finish within " + TIMEOUT_S + " s: " + cmd);
        }
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException("chromium exited with " + p.exitValue() + ": " + stderr);
        }
        List<String> console = stderr.lines().filter(l -> l.contains(":CONSOLE")).toList();
        return new Result(Files.readString(out, StandardCharsets.UTF_8), console);
    }
}
