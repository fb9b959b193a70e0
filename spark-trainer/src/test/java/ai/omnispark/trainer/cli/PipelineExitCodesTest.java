package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.cli.MainCliTest.Run;
import ai.omnispark.trainer.job.TrainingData;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/omnispark pipeline} through {@link Main#run}, one test per documented exit status
 * (docs/pipelines.md), on {@code conf/examples/pipeline-tiny.yaml} shrunk to a 2-layer model and a
 * few steps.
 */
class PipelineExitCodesTest {
    static final String CONFIG = MainCliTest.EXAMPLES.resolve("pipeline-tiny.yaml").toString();

    @TempDir
    static Path dir;

    static Path model;

    @BeforeAll
    static void writeModel() throws IOException {
        model = TinyModel.write(dir, true);
    }

    /** The example config, tiny, into {@code dir/out}, plus {@code extra} --set values. */
    static Run pipeline(String out, String... extra) {
        List<String> argv = new ArrayList<>(List.of("pipeline", CONFIG));
        for (String set : List.of("model.config_path=" + model, "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.max_steps=4", "train.save_steps=2",
                "train.global_batch_size=2", "train.micro_batch_size=1", "train.threads=1",
                "train.comm_timeout_s=60", "train.log_steps=1")) {
            argv.add("--set");
            argv.add(set);
        }
        for (String set : extra) {
            argv.add("--set");
            argv.add(set);
        }
        return MainCliTest.main(argv.toArray(String[]::new));
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    static Map<String, float[]> weights(Path hf) throws IOException {
        Map<String, float[]> w = new LinkedHashMap<>();
        try (SafeTensorsReader r = SafeTensorsReader.open(hf.resolve("model.safetensors"))) {
            for (TensorInfo t : r.tensors()) {
                w.put(t.name(), r.readFloats(t.name()));
            }
        }
        return w;
    }

    @Test
    void aFreshRunExits0AfterEveryStep() throws IOException {
        Run r = pipeline("fresh");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("pipeline: wrote the synthetic text sample to "), r.out());
        assertTrue(r.out().contains("data: no manifest at " + dir.resolve("fresh/data")), r.out());
        JsonNode j = r.lastJson();
        assertEquals("done", j.get("status").asText());
        assertEquals(List.of("sample", "prepare", "train", "export"), strings(j.get("ran")));
        assertEquals(List.of(), strings(j.get("skipped")));
        assertEquals(4, j.get("steps").asLong());
        assertEquals(0, j.get("exit_code").asInt());
        assertEquals(TrainingData.SYNTHETIC_DOCUMENTS,
                Files.readAllLines(dir.resolve("fresh/sample/text.jsonl")).size());
        assertTrue(Files.isRegularFile(dir.resolve("fresh/final_hf/config.json")));
        JsonNode state = MainCliTest.JSON.readTree(dir.resolve("fresh/pipeline_state.json").toFile());
        assertEquals("done", state.get("status").asText());
        assertEquals(4, state.get("steps").asLong());
    }

    /**
     * 4 after the restarts are used up; 0 when the rerun resumes and finishes, with the weights of
     * an uninterrupted run; 0 and nothing run after that.
     */
    @Test
    void failedTrainingExits4ThenTheRerunResumesAndTheNextDoesNothing() throws IOException {
        Run failed = pipeline("resume", "debug.fail_at_step=3", "train.max_restarts=0");
        assertEquals(4, failed.code(), failed.out() + failed.err());
        JsonNode f = failed.lastJson();
        assertEquals("pipeline_end", f.get("event").asText());
        assertEquals("failed", f.get("status").asText());
        assertEquals("train", f.get("failed_step").asText());
        assertEquals(4, f.get("exit_code").asInt());
        assertEquals(List.of("sample", "prepare"), strings(f.get("ran")));
        assertTrue(Files.isRegularFile(dir.resolve("resume/sample/text.jsonl")), "the synthetic sample is a file");
        assertTrue(Files.isDirectory(dir.resolve("resume/checkpoints/global_step_2")), failed.out());

        Run resumed = pipeline("resume", "train.max_restarts=0");
        assertEquals(0, resumed.code(), resumed.out() + resumed.err());
        assertTrue(resumed.out().contains("pipeline: resuming from the latest checkpoint"), resumed.out());
        assertTrue(resumed.out().contains("global_step_2 at step 2"), resumed.out());
        JsonNode r = resumed.lastJson();
        assertEquals("done", r.get("status").asText());
        assertEquals(List.of("train", "export"), strings(r.get("ran")));
        assertEquals(List.of("sample", "prepare"), strings(r.get("skipped")));
        assertTrue(r.get("resumed").asBoolean());
        assertEquals(4, r.get("steps").asLong());
        Path hf = dir.resolve("resume/final_hf");
        assertTrue(Files.isRegularFile(hf.resolve("model.safetensors")));
        long exportedAt = Files.getLastModifiedTime(hf.resolve("model.safetensors")).toMillis();
        // Reference: the same settings without a failure. CPU runs are bit-reproducible, and the
        // resumed run restores weights, optimizer moments and the data cursor from global_step_2.
        Run uninterrupted = pipeline("uninterrupted");
        assertEquals(0, uninterrupted.code(), uninterrupted.out() + uninterrupted.err());
        Map<String, float[]> expected = weights(dir.resolve("uninterrupted/final_hf"));
        Map<String, float[]> actual = weights(hf);
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) {
            assertArrayEquals(expected.get(name), actual.get(name), 1e-6f, name);
        }

        Run again = pipeline("resume");
        assertEquals(0, again.code(), again.out() + again.err());
        assertTrue(again.out().contains("pipeline: nothing to do"), again.out());
        assertFalse(again.out().contains("data:"), "no prepare step ran:\n" + again.out());
        JsonNode a = again.lastJson();
        assertEquals("up_to_date", a.get("status").asText());
        assertEquals(List.of(), strings(a.get("ran")));
        assertEquals(0, a.get("exit_code").asInt());
        assertEquals(exportedAt, Files.getLastModifiedTime(hf.resolve("model.safetensors")).toMillis());

        // Other settings on the same output directory would mix two runs' checkpoints: refused.
        Run other = pipeline("resume", "train.lr=1e-2");
        assertEquals(2, other.code(), other.out() + other.err());
        assertTrue(other.out().contains("holds checkpoints of another configuration or other data"), other.out());
    }

    @Test
    void aConfigurationErrorExits2BeforeAnythingRuns() throws IOException {
        Run r = pipeline("config", "train.lr_decay=cosine");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("unknown key 'train.lr_decay'"), r.out());
        JsonNode j = r.lastJson();
        assertEquals("config", j.get("failed_step").asText());
        assertEquals(List.of(), strings(j.get("ran")));
        assertFalse(Files.exists(dir.resolve("config")));

        Run noExport = pipeline("config", "train.save_hf_weights=false");
        assertEquals(2, noExport.code(), noExport.out());
        assertTrue(noExport.out().contains("train.save_hf_weights must stay true"), noExport.out());

        Run noInput = pipeline("no-input", "data.train_path=" + dir.resolve("not-there.jsonl"));
        assertEquals(2, noInput.code(), noInput.out());
        assertEquals("prepare", noInput.lastJson().get("failed_step").asText());
        assertTrue(noInput.out().contains("data.train_path " + dir.resolve("not-there.jsonl") + " matches no file"),
                noInput.out());
    }

    @Test
    void rejectedDataExits3AndPublishesNothing() throws IOException {
        Path raw = dir.resolve("raw.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            lines.add(i < 8 ? "{\"text\":\"a small red circle number " + i + ".\"}" : "{\"caption\":\"no text key\"}");
        }
        Files.write(raw, lines);
        // 2 of 10 records lack the text key: over the example's data.max_reject_ratio of 0.01.
        Run r = pipeline("rejected", "data.train_path=" + raw);
        assertEquals(3, r.code(), r.out() + r.err());
        JsonNode j = r.lastJson();
        assertEquals("prepare", j.get("failed_step").asText());
        assertTrue(j.get("error").asText().contains("2 of 10 input records were rejected"), j.toString());
        assertTrue(j.get("error").asText().contains("missing_column=2"), j.toString());
        assertFalse(Files.exists(dir.resolve("rejected/data/manifest.json")));
        assertFalse(Files.exists(dir.resolve("rejected/checkpoints")), "training never started");
    }

    @Test
    void unreachableStorageExits5() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        long start = System.nanoTime();
        List<String> argv = List.of("pipeline", CONFIG, "--set", "model.config_path=" + model, "--set",
                "train.output_dir=hdfs://127.0.0.1:" + closedPort + "/omnispark/run");
        Run r = MainCliTest.main(argv.toArray(String[]::new));
        assertEquals(5, r.code(), r.out() + r.err());
        JsonNode j = r.lastJson();
        assertEquals("storage", j.get("failed_step").asText());
        assertTrue(j.get("error").asText().contains("is not writable from the driver"), j.toString());
        assertTrue(System.nanoTime() - start < 60_000_000_000L, "an unreachable host fails fast");
    }
}
