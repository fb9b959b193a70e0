package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One measurement in a JVM of its own, started with this JVM's java, options and class path, as a
 * training job starts in a fresh process. Measured in-process after other shapes, a layout ran
 * 30-60 % slower than when it ran first (the tiny MoE's r1 s4 mb2: 237-274 ms first, 388-529 ms after
 * 28 runs of other layouts; live C heap and Java heap unchanged, resident memory 0.65 to 1.7 GB), while
 * the same layout repeated alone did not drift: what a run leaves in the allocator and the JIT's
 * profiles skews the next one, and the plan predicted from early runs what late runs then measured.
 *
 * <p>The request and the answer go through two files of Java serialization; the child's output goes to
 * a log whose tail a failure quotes. A child that runs past {@code timeout} is killed.
 */
final class ForkedMeasurement implements Measurement {
    private final Duration timeout;

    ForkedMeasurement(Duration timeout) {
        this.timeout = timeout;
    }

    /** What the child measures. */
    private record Request(Settings settings, int steps, int warmup, int threads, int[] latent)
            implements Serializable {}

    @Override
    public BenchParallel.Measured take(Settings settings, int steps, int warmup, int threads, int[] latent)
            throws Exception {
        Path dir = Files.createTempDirectory("omnispark-measure");
        Path in = dir.resolve("request.bin");
        Path out = dir.resolve("answer.bin");
        Path log = dir.resolve("child.log");
        try {
            write(in, new Request(settings, steps, warmup, threads, latent));
            Process child = new ProcessBuilder(command(in, out)).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            Thread reaper = new Thread(child::destroyForcibly, "omnispark-measure-reaper");
            Runtime.getRuntime().addShutdownHook(reaper);
            try {
                if (!child.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                    throw new IllegalStateException("a measurement ran past " + timeout.toSeconds()
                            + " s and was stopped: " + describe(settings) + tail(log));
                }
            } finally {
                Runtime.getRuntime().removeShutdownHook(reaper);
            }
            Object answer = Files.exists(out) ? read(out) : null;
            if (answer instanceof BenchParallel.Measured m && child.exitValue() == 0) {
                return m;
            }
            if (answer instanceof ConfigException e) {
                throw new ConfigException(e.getMessage());
            }
            if (answer instanceof Throwable t) {
                throw new IllegalStateException("the measurement of " + describe(settings) + " failed: " + t, t);
            }
            throw new IllegalStateException("the measurement process of " + describe(settings) + " exited with "
                    + child.exitValue() + " and no answer" + tail(log));
        } finally {
            for (Path p : List.of(in, out, log, dir)) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static List<String> command(Path in, Path out) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // a debugger's agent would try to listen on the parent's port
            if (!arg.startsWith("-agentlib:jdwp") && !arg.startsWith("-Xrunjdwp")) {
                cmd.add(arg);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ForkedMeasurement.class.getName());
        cmd.add(in.toString());
        cmd.add(out.toString());
        return cmd;
    }

    private static String describe(Settings s) {
        return "world " + s.text("train.world_size") + ", replicate " + s.text("train.data_parallel_replicate_size")
                + ", sp " + s.text("train.ulysses_parallel_size") + ", ep " + s.text("train.expert_parallel_size")
                + ", micro-batch " + s.text("train.micro_batch_size") + ", recompute "
                + s.text("train.enable_gradient_checkpointing");
    }

    private static String tail(Path log) throws IOException {
        if (!Files.exists(log)) {
            return "";
        }
        List<String> lines = Files.readAllLines(log);
        return "; its last output:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }

    private static void write(Path file, Object value) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); ObjectOutputStream oos = new ObjectOutputStream(os)) {
            oos.writeObject(value);
        }
    }

    private static Object read(Path file) throws IOException, ClassNotFoundException {
        try (InputStream is = Files.newInputStream(file); ObjectInputStream ois = new ObjectInputStream(is)) {
            return ois.readObject();
        }
    }

    /** The child: args are the request file and the answer file; exits explicitly (no thread may hold it). */
    public static void main(String[] args) {
        int code = 0;
        Object answer;
        try {
            Request r = (Request) read(Path.of(args[0]));
            answer = BenchParallel.measureAsConfigured(r.settings(), r.steps(), r.warmup(), r.threads(), r.latent());
        } catch (Throwable t) {
            t.printStackTrace();
            answer = t;
            code = 1;
        }
        try {
            write(Path.of(args[1]), answer);
        } catch (IOException e) {
            // an exception that does not serialize still reaches the parent as its text
            try {
                write(Path.of(args[1]), new IllegalStateException(String.valueOf(answer)));
            } catch (IOException again) {
                again.printStackTrace();
            }
            code = 1;
        }
        System.exit(code);
    }
}
