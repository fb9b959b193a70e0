package ai.omnispark.trainer.testing;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.LocalLauncher;
import ai.omnispark.trainer.loop.StepResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** Training runs in this JVM (ranks as threads) and the weights they write, for the trainer's tests. */
public final class TestRuns {
    private TestRuns() {}

    /** Runs the job, its console discarded; returns rank 0's step results by step, in step order. */
    public static Map<Long, StepResult> train(Settings s) throws Exception {
        Map<Long, StepResult> steps = new ConcurrentHashMap<>();
        LocalLauncher.run(s, (StepResult r, long total) -> steps.put(r.step(), r),
                new PrintStream(new ByteArrayOutputStream()), 0);
        return new TreeMap<>(steps);
    }

    /** Every tensor of a safetensors file as floats, in file order. */
    public static Map<String, float[]> tensors(Path file) throws IOException {
        Map<String, float[]> w = new LinkedHashMap<>();
        try (SafeTensorsReader r = SafeTensorsReader.open(file)) {
            for (TensorInfo t : r.tensors()) {
                w.put(t.name(), r.readFloats(t.name()));
            }
        }
        return w;
    }

    /** The tensors of an HF folder's model.safetensors. */
    public static Map<String, float[]> weights(Path hfDir) throws IOException {
        return tensors(hfDir.resolve("model.safetensors"));
    }

    /** {@code a} followed by {@code b}: a test's common settings and one run's own. */
    public static String[] concat(String[] a, String... b) {
        java.util.List<String> all = new java.util.ArrayList<>(java.util.List.of(a));
        all.addAll(java.util.List.of(b));
        return all.toArray(new String[0]);
    }

    /** Copies the tree under {@code from} to {@code to} (a run's output, to resume a copy of it). */
    public static void copy(Path from, Path to) throws IOException {
        try (var paths = java.nio.file.Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (java.nio.file.Files.isDirectory(p)) {
                    java.nio.file.Files.createDirectories(target);
                } else {
                    java.nio.file.Files.copy(p, target);
                }
            }
        }
    }
}
