package ai.omnispark.trainer.storage;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Save, resume and export through {@code hdfs://}: a MiniDFSCluster (NameNode and one DataNode on
 * 127.0.0.1, in this JVM, from {@code hadoop-client-minicluster} 3.3.4, the Hadoop of Spark's
 * client jars) holds the output_dir of a 2-rank barrier job on local Spark.
 */
class HdfsStorageTest {
    @TempDir
    Path work;

    @Test
    void savesResumesAndExportsThroughHdfs() throws Exception {
        File base = Path.of("target", "minidfs-" + System.nanoTime()).toAbsolutePath().toFile();
        Configuration conf = new Configuration();
        conf.set("dfs.replication", "1");
        conf.set("dfs.namenode.http-address", "127.0.0.1:0");
        conf.set("dfs.datanode.address", "127.0.0.1:0");
        conf.set("dfs.datanode.http.address", "127.0.0.1:0");
        conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
        MiniDFSCluster cluster;
        try {
            cluster = new MiniDFSCluster.Builder(conf, base).numDataNodes(1).checkDataNodeAddrConfig(true)
                    .build();
            cluster.waitActive();
        } catch (Exception | LinkageError e) {
            UnavailableServer.skipOrFail("MiniDFSCluster (hadoop-client-minicluster 3.3.4) did not start on 127.0.0.1: "
                    + e);
            return;
        }
        try {
            String uri = "hdfs://127.0.0.1:" + cluster.getNameNodePort();
            StorageRoundTrip.run(uri + "/omnispark", Map.of(
                    "fs.defaultFS", uri,
                    "dfs.replication", "1",
                    "dfs.client.use.datanode.hostname", "false"), work);
        } finally {
            cluster.shutdown(true);
            deleteQuietly(base.toPath());
        }
    }

    private static void deleteQuietly(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception ignored) {
            // A leftover folder under target/ is harmless.
        }
    }
}
