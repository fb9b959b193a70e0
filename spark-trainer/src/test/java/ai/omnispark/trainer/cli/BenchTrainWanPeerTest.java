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
            // model FLOPs by hand, tiny-wan-bench: D = 4 x 16 = 64, patch 1x2x2 (p = 4), 2 layers, ffn 128,
            // text_dim 32, freq_dim 32; per row S = 2 x 4 x 4 = 32 patch tokens, L = 32 text tokens
            long macs = 32 * (4 * 4 * 64 + 64 * 4 * 4) // patch embedding, proj_out
                    + 32 * (32 * 64 + 64 * 64) // text embedder
                    + (32 * 64 + 64 * 64 + 64 * 6 * 64) // time embedder, time_proj
                    + 2 * (32 * (6 * 64 * 64 + 2 * 64 * 128) + 32 * 2 * 64 * 64); // blocks
            double perRow = 6.0 * macs + 12.0 * 2 * 64 * (32 * 32 + 32 * 32); // self and cross pairs
            double flops = ours.get("model_flops_per_step").asDouble();
            assertEquals(2 * perRow, flops, 1e-9 * flops, ours.toString());
            assertEquals(flops / (lines.get(1).get("step_ms").asDouble() / 1000) / 1e9,
                    cmp.get("pytorch_achieved_gflops").asDouble(), 1e-9 * flops);
            assertTrue(ours.get("roofline_share").asDouble() > 0, ours.toString());
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
