package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench train} on the wan family against its PyTorch eager peer (bench/peers/torch_wan.py):
 * the peer builds the DiT from our diffusers export and reads the bench's flow-matching batch, so its
 * first loss must equal ours. Needs Debian's /usr/bin/python3 with torch; skipped without it (CI).
 */
class BenchTrainWanPeerTest {
    private static final Path PYTHON = Path.of("/usr/bin/python3");

    @TempDir
    Path dir;

    @Test
    void peerLossEqualsOursOnASmallLatent() throws Exception {
        Assumptions.assumeTrue(torchAvailable(), "no /usr/bin/python3 with torch (apt-get install python3-torch)");
        Path yaml = dir.resolve("wan.yaml");
        // Two samples, so the per-sample mean and the division by the sample count are both checked.
        Files.writeString(yaml, """
                model:
                  config_path: %s
                  attention_impl: sdpa
                data:
                  train_path: synthetic://text
                  max_seq_len: 64
                train:
                  output_dir: %s
                  micro_batch_size: 2
                  global_batch_size: 2
                  lr: 1.0e-4
                """.formatted(Path.of("../conf/models/tiny-wan-bench.json").toAbsolutePath(), dir.resolve("run")));
        String home = System.getProperty("omnispark.home");
        System.setProperty("omnispark.home", ".."); // the repository root, where bench/peers lives
        try {
            MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", yaml.toString(), "--latent", "4,2,8,8",
                    "--threads", "1", "--steps", "1", "--warmup", "0");
            assertEquals(0, r.code(), r.out() + r.err());
            List<JsonNode> lines = new ArrayList<>();
            for (String line : r.out().split("\n")) {
                if (line.startsWith("{")) {
                    lines.add(MainCliTest.JSON.readTree(line));
                }
            }
            assertEquals(3, lines.size(), r.out());
            JsonNode ours = lines.get(0);
            assertEquals(2 * 4 * 4, ours.get("seq_len").asInt(), "F' H' W' patch tokens at patch 1x2x2");
            assertEquals("pytorch-eager", lines.get(1).get("impl").asText());
            JsonNode cmp = lines.get(2);
            double mine = cmp.get("omnispark_loss").asDouble();
            double theirs = cmp.get("pytorch_loss").asDouble();
            // the target eps - x0 is unit-scale, so an untrained DiT's loss is of order 1 (1.33 here), far from 0
            assertTrue(mine > 0.1, cmp.toString());
            assertEquals(theirs, mine, 1e-4 * Math.abs(theirs), cmp.toString());
            assertTrue(cmp.get("step_time_ratio").asDouble() > 0, cmp.toString());
            assertTrue(cmp.get("pytorch_peak_rss_bytes").asLong() > 0, cmp.toString());
        } finally {
            if (home == null) {
                System.clearProperty("omnispark.home");
            } else {
                System.setProperty("omnispark.home", home);
            }
        }
    }

    @Test
    void latentIsRefusedForATokenFamily() throws Exception {
        Path model = ai.omnispark.trainer.testing.TinyModel.write(dir, true);
        Path yaml = dir.resolve("llm.yaml");
        Files.writeString(yaml, """
                model:
                  config_path: %s
                data:
                  train_path: synthetic://text
                  max_seq_len: 32
                train:
                  global_batch_size: 1
                  micro_batch_size: 1
                """.formatted(model));
        MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", yaml.toString(), "--latent", "4,2,8,8",
                "--peer", "false", "--threads", "1", "--steps", "1", "--warmup", "0");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--latent is for latent-row families"), r.err());
    }

    private static boolean torchAvailable() throws InterruptedException {
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
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
