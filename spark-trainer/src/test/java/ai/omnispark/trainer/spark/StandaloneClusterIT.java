package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.testing.TinyModel;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.LocalLauncher;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A real Spark standalone cluster on 127.0.0.1, every part its own JVM started from the project's
 * distribution (target/jars): a master, two workers with two cores each, and the job submitted
 * through Spark's own SparkSubmit. Four ranks on two executors talk over TCP; their losses must
 * equal the same run's in one JVM within 1e-5 relative, and their final weights within 1e-5, the
 * tolerances of DistributedTrainingTest (AdamW with its default eps, 1e-8: the layouts differ only
 * in the order in which gradients are summed).
 */
class StandaloneClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Kept after the run (not a temp dir) so that a failure leaves the cluster's logs to read. */
    private Path dir;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void stopCluster() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    @Test
    void fourRanksOnTwoWorkersMatchLocalMode() throws Exception {
        dir = Path.of("target/it-cluster").toAbsolutePath();
        if (Files.exists(dir)) {
            try (Stream<Path> old = Files.walk(dir)) {
                old.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Files.createDirectories(dir);
        Path jars = Path.of("target/jars").toAbsolutePath();
        Path app;
        try (Stream<Path> s = Files.list(Path.of("target"))) {
            app = s.filter(p -> p.getFileName().toString().matches("omnispark-spark-trainer-.*\\.jar"))
                    .filter(p -> !p.getFileName().toString().contains("tests")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("run after package: no application jar in target/"))
                    .toAbsolutePath();
        }
        // Spark's launcher builds executor classpaths from SPARK_HOME/jars; a RELEASE file marks an installation.
        Path home = dir.resolve("spark-home");
        Files.createDirectories(home.resolve("jars"));
        Files.writeString(home.resolve("RELEASE"), "omnispark test installation\n");
        try (Stream<Path> s = Files.list(jars)) {
            for (Path j : (Iterable<Path>) s::iterator) {
                Files.createSymbolicLink(home.resolve("jars").resolve(j.getFileName()), j);
            }
        }
        String cp = home.resolve("jars") + File.separator + "*";
        List<String> opens = Arrays.asList(System.getProperty("omnispark.jvm.opens", "").split(" "));

        int masterPort = freePort();
        String master = "spark://127.0.0.1:" + masterPort;
        start("master", home, cp, opens, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                "--port", String.valueOf(masterPort), "--webui-port", String.valueOf(freePort()));
        waitForPort(masterPort, 90);
        for (int w = 0; w < 2; w++) {
            start("worker" + w, home, cp, opens, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                    "--cores", "2", "--memory", "1500m", "--webui-port", String.valueOf(freePort()),
                    "--work-dir", dir.resolve("work" + w).toString(), master);
        }

        Path model = TinyModel.write(dir, true);
        List<String> sets = List.of("model.config_path=" + model, "data.train_path=synthetic://text",
                "data.max_seq_len=64", "train.global_batch_size=8", "train.micro_batch_size=1", "train.lr=1e-3",
                "train.max_steps=4", "train.threads=1", "train.world_size=4", "train.comm_timeout_s=120",
                "train.save_steps=2");
        Path config = dir.resolve("run.yaml");
        Files.writeString(config, "train:\n  output_dir: " + dir.resolve("cluster") + "\n");

        List<String> submit = new ArrayList<>(List.of(javaBin(), "-Xmx1g", "-Dai.djl.offline=true"));
        submit.addAll(opens);
        submit.addAll(List.of("-cp", cp, "org.apache.spark.deploy.SparkSubmit", "--master", master,
                "--deploy-mode", "client", "--class", SubmitMain.class.getName(),
                "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.executor.cores=2",
                "--conf", "spark.cores.max=4", "--conf", "spark.task.cpus=1", "--conf", "spark.executor.memory=1g",
                "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
                "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.executor.extraJavaOptions=-Dai.djl.offline=true " + String.join(" ", opens),
                app.toString(), config.toString()));
        for (String s : sets) {
            submit.add("--set");
            submit.add(s);
        }
        // The executors share this host, where the default would pick Unix domain sockets: force TCP.
        submit.add("--set");
        submit.add("train.comm_transport=tcp");
        ProcessBuilder pb = new ProcessBuilder(submit).redirectErrorStream(true)
                .redirectOutput(dir.resolve("submit.log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        // An installation without the version in its jar names: tell Spark's launcher which Scala it is.
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        Process job = pb.start();
        processes.add(job);
        boolean done = job.waitFor(8, TimeUnit.MINUTES);
        String log = Files.readString(dir.resolve("submit.log"));
        assertTrue(done, "spark-submit did not finish in 8 minutes (logs in " + dir + "):\n" + tail(log));
        assertEquals(0, job.exitValue(), "spark-submit failed:\n" + tail(log));
        JsonNode summary = null;
        for (String line : log.split("\n")) {
            if (line.startsWith("{\"event\":\"train_end\"")) {
                summary = JSON.readTree(line);
            }
        }
        assertTrue(summary != null, "no summary line:\n" + tail(log));
        assertEquals(4, summary.get("world_size").asInt());
        Map<Long, Double> cluster = losses(dir.resolve("cluster/metrics.jsonl"));

        List<String> localSets = new ArrayList<>(sets);
        localSets.add("train.output_dir=" + dir.resolve("local"));
        Map<Long, Double> local = new LinkedHashMap<>();
        LocalLauncher.run(Settings.fromTree(null, localSets, "test"), (r, total) -> local.put(r.step(), r.loss()),
                new PrintStream(new ByteArrayOutputStream()), 0);
        assertEquals(local.keySet(), cluster.keySet());
        double worst = 0;
        for (long step : local.keySet()) {
            double rel = Math.abs(local.get(step) - cluster.get(step)) / Math.abs(local.get(step));
            worst = Math.max(worst, rel);
            assertTrue(rel <= 1e-5, "step " + step + ": cluster " + cluster.get(step) + " vs local " + local.get(step));
        }
        double worstWeight = 0;
        try (SafeTensorsReader c = SafeTensorsReader.open(dir.resolve("cluster/final_hf/model.safetensors"));
                SafeTensorsReader l = SafeTensorsReader.open(dir.resolve("local/final_hf/model.safetensors"))) {
            assertEquals(l.tensors().stream().map(TensorInfo::name).sorted().toList(),
                    c.tensors().stream().map(TensorInfo::name).sorted().toList(), "tensors of final_hf");
            for (TensorInfo t : l.tensors()) {
                float[] a = l.readFloats(t.name());
                float[] b = c.readFloats(t.name());
                assertEquals(a.length, b.length, t.name());
                for (int i = 0; i < a.length; i++) {
                    worstWeight = Math.max(worstWeight, Math.abs(a[i] - b[i]));
                    assertTrue(Math.abs(a[i] - b[i]) <= 1e-5, t.name() + "[" + i + "]: cluster " + b[i] + " vs local " + a[i]);
                }
            }
        }
        System.out.printf("cluster (4 ranks, 2 executors, TCP) vs local mode: max loss difference %.2e relative, "
                + "max weight difference %.2e%n", worst, worstWeight);
    }

    private void start(String name, Path home, String cp, List<String> opens, String main, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(javaBin(), "-Xmx512m"));
        cmd.addAll(opens);
        cmd.addAll(List.of("-cp", cp, main));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        // An installation without the version in its jar names: tell Spark's launcher which Scala it is.
        pb.environment().put("SPARK_SCALA_VERSION", "2.12");
        processes.add(pb.start());
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void waitForPort(int port, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException e) {
                Thread.sleep(500);
            }
        }
        throw new IllegalStateException("nothing listens on port " + port + " after " + seconds + " s");
    }

    private static Map<Long, Double> losses(Path metrics) throws IOException {
        Map<Long, Double> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            JsonNode o = JSON.readTree(line);
            m.put(o.get("step").asLong(), o.get("loss").asDouble());
        }
        return m;
    }

    private static String tail(String log) {
        String[] lines = log.split("\n");
        return String.join("\n", Arrays.copyOfRange(lines, Math.max(0, lines.length - 60), lines.length));
    }
}
