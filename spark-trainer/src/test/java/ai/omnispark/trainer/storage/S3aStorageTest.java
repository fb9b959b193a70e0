package ai.omnispark.trainer.storage;

import com.amazonaws.auth.AWSStaticCredentialsProvider;
import com.amazonaws.auth.BasicAWSCredentials;
import com.amazonaws.client.builder.AwsClientBuilder.EndpointConfiguration;
import com.amazonaws.services.s3.AmazonS3;
import com.amazonaws.services.s3.AmazonS3ClientBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Save, resume and export through {@code s3a://}: S3Proxy (Maven Central's
 * {@code org.gaul:s3proxy:jar-with-dependencies}, copied to {@code target/s3proxy/s3proxy.jar} by
 * the build, in-memory jclouds {@code transient} store) serves S3 on 127.0.0.1 from a child JVM, so
 * its Jetty, Guava and Jackson never share a classpath with Spark. S3A (hadoop-aws 3.3.4 from
 * {@code spark-hadoop-cloud}) reaches it through {@code spark.hadoop.fs.s3a.*} settings only.
 */
class S3aStorageTest {
    private static final String ID = "omnispark";
    private static final String SECRET = "omnispark-test-secret";
    private static final String BUCKET = "omnispark-test";

    @TempDir
    Path work;

    @Test
    void savesResumesAndExportsThroughS3a() throws Exception {
        Path jar = Path.of("target", "s3proxy", "s3proxy.jar").toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            UnavailableServer.skipOrFail("S3Proxy is not at " + jar
                    + "; the build copies it there in generate-test-resources (run the test through Maven)");
        }
        int port = freePort();
        String endpoint = "http://127.0.0.1:" + port;
        Path props = work.resolve("s3proxy.properties");
        Files.writeString(props, String.join("\n",
                "s3proxy.endpoint=" + endpoint,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ID,
                "s3proxy.credential=" + SECRET,
                "jclouds.provider=transient",
                "jclouds.identity=" + ID,
                "jclouds.credential=" + SECRET,
                ""));
        Path log = Path.of("target", "s3proxy", "s3proxy-" + port + ".log").toAbsolutePath();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process server = new ProcessBuilder(List.of(java, "-Xmx512m", "-jar", jar.toString(), "--properties",
                props.toString())).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!awaitPort(server, port, 60_000)) {
                UnavailableServer.skipOrFail("S3Proxy " + jar + " did not listen on 127.0.0.1:" + port + " within 60 s (alive: "
                        + server.isAlive() + "); its log " + log + " ends:\n" + tail(log));
            }
            AmazonS3 s3 = AmazonS3ClientBuilder.standard()
                    .withEndpointConfiguration(new EndpointConfiguration(endpoint, "us-east-1"))
                    .withPathStyleAccessEnabled(true)
                    .withCredentials(new AWSStaticCredentialsProvider(new BasicAWSCredentials(ID, SECRET)))
                    .build();
            s3.createBucket(BUCKET);
            s3.shutdown();

            StorageRoundTrip.run("s3a://" + BUCKET + "/omnispark", Map.of(
                    "fs.s3a.endpoint", endpoint,
                    "fs.s3a.endpoint.region", "us-east-1",
                    "fs.s3a.path.style.access", "true",
                    "fs.s3a.connection.ssl.enabled", "false",
                    "fs.s3a.access.key", ID,
                    "fs.s3a.secret.key", SECRET,
                    "fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
                    "fs.s3a.change.detection.mode", "none",
                    "fs.s3a.attempts.maximum", "3",
                    "fs.s3a.retry.limit", "3"), work);
        } finally {
            server.destroy();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static boolean awaitPort(Process server, int port, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline && server.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
                return true;
            } catch (IOException notYet) {
                Thread.sleep(200);
            }
        }
        return false;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }
}
