package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.data.pack.PackedRow;
import ai.omnispark.data.tokenizer.Tokenizer;
import ai.omnispark.trainer.config.JobConfig;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.TrainingData;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench train}'s own side (the PyTorch peer needs Debian's python3-torch, so it is off here). */
class BenchTrainTest {
    @TempDir
    Path dir;

    private Path config() throws Exception {
        Path model = TinyModel.write(dir, true);
        Path yaml = dir.resolve("bench.yaml");
        Files.writeString(yaml, """
                model:
                  config_path: %s
                data:
                  train_path: synthetic://text
                  max_seq_len: 64
                train:
                  global_batch_size: 4
                  micro_batch_size: 2
                """.formatted(model));
        return yaml;
    }

    @Test
    void seqLenOverridesTheConfigAndProfileWritesATraceOfOneStep() throws Exception {
        Path profile = dir.resolve("profile");
        MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", config().toString(), "--peer", "false",
                "--threads", "1", "--steps", "1", "--warmup", "0", "--seq-len", "32", "--profile", profile.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        JsonNode java = r.lastJson();
        assertEquals(32, java.get("seq_len").asInt(), "the packed rows are --seq-len long, not the config's 64");
        assertEquals(4, java.get("rows").asInt());
        assertTrue(java.get("peak_rss_bytes").asLong() > 0, java.toString());
        Path trace = Path.of(java.get("profile").asText());
        assertEquals(profile.resolve("trace-threads-1.json"), trace);
        JsonNode root = MainCliTest.JSON.readTree(trace.toFile());
        int steps = 0;
        boolean ops = false;
        for (JsonNode e : root.get("traceEvents")) {
            assertEquals(0, e.get("pid").asInt());
            steps += e.get("name").asText().equals("step") ? 1 : 0;
            ops |= e.path("cat").asText().equals("op");
        }
        assertEquals(1, steps, "one recorded step, after the timed ones");
        assertTrue(ops, "libtorch's ops are in the trace");
    }

    /**
     * Model FLOPs of the tiny Qwen3 step, by hand: per layer q 32x32, k and v 32x16, o 32x32
     * (3072), MLP 3 x 32 x 64 (6144); 2 layers; LM head 32 x 259 (8288): 26720 matmul parameters a
     * token passes, 6 FLOPs each per token, plus 2 x 2 x 3 x 2 layers x 4 heads x 8 per causal
     * (query, key) pair inside a document. The tokens and pairs are counted here from the rows the
     * bench packs (the same data, seed and --seq-len; at 256 a row holds more than one document).
     */
    static double tinyStepFlops(Path yaml, int seqLen, int rows) throws Exception {
        JobConfig job = JobConfig.from(Settings.load(yaml, List.of("data.max_seq_len=" + seqLen)));
        Tokenizer tokenizer = TrainingData.tokenizer(job);
        long tokens = 0;
        long pairs = 0;
        long documents = 0;
        for (PackedRow r : TrainingData.rows(job, tokenizer).subList(0, rows)) {
            int[] doc = r.docIds();
            documents += java.util.Arrays.stream(doc).filter(d -> d >= 0).distinct().count();
            for (int q = 0; q < doc.length; q++) {
                if (doc[q] < 0) {
                    continue; // padding
                }
                tokens++;
                for (int k = 0; k <= q; k++) {
                    pairs += doc[k] == doc[q] ? 1 : 0;
                }
            }
        }
        assertTrue(documents > rows, "some row packs several documents, so their pairs are counted per document");
        long params = 2 * (32L * 32 + 2 * 32L * 16 + 32L * 32 + 3 * 32L * 64) + 32L * 259;
        assertEquals(26_720, params);
        return 6.0 * params * tokens + 2 * 2 * 3 * 2 * 4 * 8.0 * pairs;
    }

    @Test
    void reportsModelFlopsAchievedRateAndRooflineShare() throws Exception {
        Path yaml = config();
        MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", yaml.toString(), "--peer", "false",
                "--threads", "1", "--steps", "1", "--warmup", "0", "--seq-len", "256");
        assertEquals(0, r.code(), r.out() + r.err());
        JsonNode java = r.lastJson();
        double flops = java.get("model_flops_per_step").asDouble();
        assertEquals(tinyStepFlops(yaml, 256, 4), flops, 1e-9 * flops, java.toString());
        double stepS = java.get("step_ms").asDouble() / 1000;
        assertEquals(flops / stepS / 1e9, java.get("achieved_gflops").asDouble(), 1e-9 * flops / stepS);
        double matmul = java.get("matmul_gflops").asDouble();
        assertTrue(matmul > 0 && Double.isFinite(matmul), java.toString());
        double share = java.get("roofline_share").asDouble();
        assertEquals(java.get("achieved_gflops").asDouble() / matmul, share, 1e-12);
        assertTrue(share > 0 && share < 1.5, "a step reaches a share of the matmul rate: " + java);
    }

    /**
     * The peer's peak RSS is printed beside ours. A stand-in peer (the real one needs Debian's
     * python3-torch) reports 2048 bytes and a loss of 1.0, which does not match, so the run fails
     * after printing the comparison; a peer that exits with an error is reported with its output.
     */
    @Test
    void peerPeakRssIsComparedAndAFailingPeerIsReported() throws Exception {
        Path fake = dir.resolve("fake-python");
        Files.writeString(fake, "#!/bin/sh\necho 'warming up'\n"
                + "echo '{\"impl\":\"fake\",\"loss\":1.0,\"step_ms\":10.0,\"peak_rss_bytes\":2048}'\n");
        assertTrue(fake.toFile().setExecutable(true));
        Path broken = dir.resolve("broken-python");
        Files.writeString(broken, "#!/bin/sh\necho 'no torch here' >&2\nexit 3\n");
        assertTrue(broken.toFile().setExecutable(true));
        String home = System.getProperty("omnispark.home");
        System.setProperty("omnispark.home", ".."); // the repository root, where bench/peers lives
        try {
            MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", config().toString(), "--threads", "1",
                    "--steps", "1", "--warmup", "0", "--python", fake.toString());
            assertEquals(1, r.code(), r.out() + r.err());
            assertTrue(r.err().contains("loss differs"), r.err());
            JsonNode ours = null;
            JsonNode cmp = null;
            for (String line : r.out().lines().filter(l -> l.startsWith("{")).toList()) {
                JsonNode o = MainCliTest.JSON.readTree(line);
                if (o.path("impl").asText().equals("omnispark")) {
                    ours = o;
                }
                if (o.has("compare")) {
                    cmp = o;
                }
            }
            long javaRss = ours.get("peak_rss_bytes").asLong();
            assertEquals(2048, cmp.get("pytorch_peak_rss_bytes").asLong());
            assertEquals(javaRss, cmp.get("omnispark_peak_rss_bytes").asLong());
            assertEquals(javaRss / 2048.0, cmp.get("peak_rss_ratio").asDouble(), 1e-9);
            // the same model FLOPs over the peer's 10 ms step
            double flops = ours.get("model_flops_per_step").asDouble();
            assertEquals(flops / 0.010 / 1e9, cmp.get("pytorch_achieved_gflops").asDouble(), 1e-9 * flops);
            assertEquals(ours.get("achieved_gflops").asDouble(), cmp.get("omnispark_achieved_gflops").asDouble());

            MainCliTest.Run failed = MainCliTest.main("bench", "train", "--config", config().toString(), "--threads",
                    "1", "--steps", "1", "--warmup", "0", "--python", broken.toString());
            assertTrue(failed.code() != 0);
            assertTrue((failed.out() + failed.err()).contains("failed (exit 3)")
                    && (failed.out() + failed.err()).contains("no torch here"), failed.out() + failed.err());
        } finally {
            if (home == null) {
                System.clearProperty("omnispark.home");
            } else {
                System.setProperty("omnispark.home", home);
            }
        }
    }

    @Test
    void badSeqLenIsRefusedByName() throws Exception {
        for (String bad : List.of("0", "many")) {
            MainCliTest.Run r = MainCliTest.main("bench", "train", "--config", config().toString(), "--peer", "false",
                    "--seq-len", bad);
            assertEquals(2, r.code(), r.out() + r.err());
            assertTrue(r.err().contains("--seq-len"), r.err());
        }
    }

    /** The benchmark model of docs/performance.md: 25.3 M parameters, counted by hand. */
    @Test
    void mediumExampleIsTheDocumentedModel() throws Exception {
        Settings s = Settings.load(MainCliTest.EXAMPLES.resolve("medium-llm.yaml"), List.of());
        assertEquals(8, s.integer("train.global_batch_size"));
        assertEquals(4, s.integer("train.micro_batch_size"));
        long count;
        try (Model c = ModelFamilies.load(Path.of("..").resolve(s.string("model.config_path")), ModelOptions.defaults())) {
            count = c.parameterCount();
        }
        // embed 259*512; per layer q 512*512, k and v 256*512 each, o 512*512, q/k norms 2*64,
        // two norms 2*512, gate/up/down 3*1536*512; final norm 512; lm_head tied
        long layer = 512L * 512 + 2 * 256L * 512 + 512L * 512 + 2 * 64 + 2 * 512 + 3 * 1536L * 512;
        assertEquals(259L * 512 + 8 * layer + 512, count);
        assertEquals(25_308_160L, count);
    }
}
