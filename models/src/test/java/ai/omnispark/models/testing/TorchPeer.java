package ai.omnispark.models.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The PyTorch peer the cross-check tests compare against: Debian's {@code /usr/bin/python3} with
 * python3-torch (the {@code python3} on PATH may be another interpreter without it), running a
 * reference script kept as a test resource. Without it the calling test is skipped, as on CI.
 */
public final class TorchPeer {
    public static final Path PYTHON = Path.of("/usr/bin/python3");

    private TorchPeer() {}

    /** Skips the calling test unless {@link #available()}. */
    public static void assume() {
        Assumptions.assumeTrue(available(), "no /usr/bin/python3 with torch (apt-get install python3-torch)");
    }

    /** Whether /usr/bin/python3 imports torch (within two minutes). */
    public static boolean available() {
        if (!Files.isExecutable(PYTHON)) {
            return false;
        }
        try {
            Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Copies the test resource {@code script} (e.g. {@code /moe/transformers_reference.py}) into
     * {@code dir}, runs it with {@code args}, and returns what it printed; fails the test, with the
     * script's stderr, when it exits non-zero or outlasts {@code timeoutSeconds}.
     */
    public static byte[] run(String script, Path dir, int timeoutSeconds, String... args)
            throws IOException, InterruptedException {
        String name = script.substring(script.lastIndexOf('/') + 1);
        Path copy = dir.resolve(name);
        try (InputStream in = TorchPeer.class.getResourceAsStream(script)) {
            if (in == null) {
                throw new IllegalArgumentException("no test resource " + script);
            }
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        }
        Path out = dir.resolve(name + ".out");
        Path log = dir.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(PYTHON.toString(), copy.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(log.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(name + " did not finish in " + timeoutSeconds + " s");
        }
        assertEquals(0, p.exitValue(), name + " failed: " + Files.readString(log, StandardCharsets.UTF_8));
        byte[] printed = Files.readAllBytes(out);
        assertTrue(printed != null);
        return printed;
    }
}
