package ai.omnispark.trainer.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 2-rank FSDP job with {@code train.enable_profiling} must leave one merged Chrome trace: valid
 * JSON, one process per rank, spans properly nested on every thread, the loop's and the engine's
 * spans for exactly the profiled steps, collectives carrying the bytes the tiny model's units
 * have (derived by hand below), and libtorch's ops inside the recorded window.
 */
class ProfileTraceTest {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    @TempDir
    Path dir;

    private Settings settings(String... sets) throws Exception {
        Path model = TinyModel.write(dir, false);
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + model, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve("out"), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.max_steps=3", "train.threads=1", "train.comm_timeout_s=60", "train.save_hf_weights=false",
                "train.world_size=2", "train.save_steps=2", "train.enable_profiling=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    @Test
    void twoRankProfileIsOneNestedTraceWithAProcessPerRank() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        // records steps 2 and 3 (after 1 step done, through step 3); step 2 checkpoints
        LocalLauncher.run(settings("train.profile_start_step=1", "train.profile_end_step=3"), (r, total) -> { },
                new PrintStream(log, true, StandardCharsets.UTF_8), 0);
        Path trace = dir.resolve("out/profile/trace.json");
        assertTrue(Files.isRegularFile(trace), "no merged trace; log:\n" + log);
        JsonNode root = JSON.readTree(trace.toFile());
        JsonNode events = root.get("traceEvents");
        assertTrue(events.isArray() && events.size() > 0);

        Set<Integer> pids = new TreeSet<>();
        Set<Integer> named = new TreeSet<>();
        Map<String, List<long[]>> tracks = new HashMap<>();
        Map<Integer, Map<String, Integer>> namesByRank = new HashMap<>();
        Map<Integer, Map<String, Integer>> opNamesByRank = new HashMap<>();
        Map<String, Set<Long>> bytesByOp = new HashMap<>();
        Set<Long> steps = new TreeSet<>();
        Map<Integer, long[]> stepWindow = new HashMap<>();
        List<long[]> ops = new ArrayList<>();
        for (JsonNode e : events) {
            int pid = e.get("pid").asInt();
            pids.add(pid);
            String ph = e.get("ph").asText();
            if (ph.equals("M")) {
                if (e.get("name").asText().equals("process_name")) {
                    assertEquals("rank " + pid, e.path("args").path("name").asText());
                    named.add(pid);
                }
                continue;
            }
            assertEquals("X", ph, "only complete events: " + e);
            long start = nanos(e.get("ts"));
            long end = start + nanos(e.get("dur"));
            assertTrue(end >= start, "negative duration: " + e);
            tracks.computeIfAbsent(pid + "/" + e.get("tid").asLong(), k -> new ArrayList<>())
                    .add(new long[] {start, end});
            String name = e.get("name").asText();
            // libtorch's own ops (cat "op") are counted apart: a TorchScript module's call is an op
            // named "forward" too (the SDPA attention kernel), which must not count as our span.
            (e.path("cat").asText().equals("op") ? opNamesByRank : namesByRank)
                    .computeIfAbsent(pid, k -> new HashMap<>()).merge(name, 1, Integer::sum);
            if (e.path("cat").asText().equals("comm")) {
                assertTrue(e.path("args").has("bytes"), "collective without bytes: " + e);
                bytesByOp.computeIfAbsent(name, k -> new TreeSet<>()).add(e.path("args").path("bytes").asLong());
            }
            if (name.equals("step")) {
                steps.add(e.path("args").path("step").asLong());
            }
            if (name.equals("step") || name.equals("checkpoint")) {
                stepWindow.merge(pid, new long[] {start, end}, (a, b) -> new long[] {Math.min(a[0], b[0]),
                        Math.max(a[1], b[1])});
            }
            if (e.path("cat").asText().equals("op")) {
                ops.add(new long[] {pid, start, end});
            }
        }
        assertEquals(Set.of(0, 1), pids, "one process per rank");
        assertEquals(Set.of(0, 1), named, "every process is named after its rank");
        assertEquals(Set.of(2L, 3L), steps, "exactly the profiled steps");

        for (Map.Entry<String, List<long[]>> t : tracks.entrySet()) {
            assertNested(t.getKey(), t.getValue());
        }
        for (int rank = 0; rank < 2; rank++) {
            Map<String, Integer> names = namesByRank.get(rank);
            for (String expected : List.of("step", "data wait", "forward", "backward", "embed", "attn.0", "mlp.0", "attn.1", "mlp.1",
                    "head.loss", "acquire params", "accumulate grad", "clip grad norm", "optimizer step", "checkpoint",
                    "allGather", "reduceScatter", "allReduce")) {
                assertTrue(names.containsKey(expected), "rank " + rank + " has no '" + expected + "' span: "
                        + names.keySet());
            }
            assertEquals(2, names.get("step"), "rank " + rank + ": two profiled steps");
            // 4 rows over 2 ranks at 1 row per micro-batch: 2 micro-batches per step, each one forward
            assertEquals(4, names.get("forward"), "rank " + rank + ": one forward per micro-batch");
            assertTrue(opNamesByRank.getOrDefault(rank, Map.of()).keySet().stream()
                    .anyMatch(n -> n.startsWith("aten::")), "rank " + rank + " has no libtorch op");
        }
        // Units of the tiny Qwen3 (hidden 32, 4 heads / 2 KV of 8, intermediate 64, vocab 259, untied),
        // fp32, padded to a multiple of 2 ranks (all even already):
        //   embed 259*32 = 8288;
        //   block: input norm 32 + q 32*32 + k 16*32 + v 16*32 + q/k norms 2*8 + o 32*32 + post norm 32
        //          + gate, up, down 3 * 64*32 = 32 + 1024 + 512 + 512 + 16 + 1024 + 32 + 6144 = 9296;
        //   head: final norm 32 + lm_head 259*32 = 8320.
        Set<Long> unitBytes = Set.of(8288L * 4, 9296L * 4, 8320L * 4);
        assertEquals(unitBytes, bytesByOp.get("allGather"), "all-gathers move whole units");
        assertEquals(unitBytes, bytesByOp.get("reduceScatter"), "reduce-scatters move whole unit gradients");
        assertTrue(bytesByOp.get("allReduce").stream().allMatch(b -> b > 0 && b <= 8), "scalar all-reduces");
        // libtorch's ops, shifted onto our clock, fall inside the rank's recorded steps (1 ms slack for the shift)
        for (long[] op : ops) {
            long[] w = stepWindow.get((int) op[0]);
            assertTrue(op[1] >= w[0] - 1_000_000 && op[2] <= w[1] + 1_000_000,
                    "op outside rank " + op[0] + "'s profiled steps: [" + op[1] + ", " + op[2] + "] vs [" + w[0]
                            + ", " + w[1] + "]");
        }
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("profile: "), log.toString(StandardCharsets.UTF_8));
    }

    /** A window the run ends inside is written at the end; one rank, no communicator. */
    @Test
    void windowPastTheLastStepIsWrittenWhenTheRunEnds() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        LocalLauncher.run(settings("train.world_size=1", "train.data_parallel_mode=none", "train.save_steps=0",
                "train.profile_start_step=2", "train.profile_end_step=10"), (r, total) -> { },
                new PrintStream(log, true, StandardCharsets.UTF_8), 0);
        JsonNode events = JSON.readTree(dir.resolve("out/profile/trace.json").toFile()).get("traceEvents");
        Set<Long> steps = new TreeSet<>();
        for (JsonNode e : events) {
            assertEquals(0, e.get("pid").asInt());
            if (e.get("name").asText().equals("step")) {
                steps.add(e.path("args").path("step").asLong());
            }
        }
        assertEquals(Set.of(3L), steps, "of steps 3 to 10, the 3-step run ran step 3");
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("steps 3 to 10, 1 rank, "), log.toString(StandardCharsets.UTF_8));
    }

    @Test
    void windowAfterTheRunRecordsNothingAndSaysSo() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        LocalLauncher.run(settings("train.world_size=1", "train.data_parallel_mode=none", "train.save_steps=0",
                "train.max_steps=1", "train.profile_start_step=4", "train.profile_end_step=5"), (r, total) -> { },
                new PrintStream(log, true, StandardCharsets.UTF_8), 0);
        assertFalse(Files.exists(dir.resolve("out/profile/trace.json")));
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("profile: nothing recorded: this run did not run step 5"),
                log.toString(StandardCharsets.UTF_8));
    }

    @Test
    void profilingOffWritesNothing() throws Exception {
        LocalLauncher.run(settings("train.enable_profiling=false", "train.max_steps=1"), (r, total) -> { },
                new PrintStream(new ByteArrayOutputStream()), 0);
        assertFalse(Files.exists(dir.resolve("out/profile")));
    }

    @Test
    void emptyWindowIsRefusedNamingTheKeys() {
        ConfigException e = assertThrows(ConfigException.class, () -> LocalLauncher.run(
                settings("train.profile_start_step=2", "train.profile_end_step=2"), (r, total) -> { },
                new PrintStream(new ByteArrayOutputStream()), 0));
        assertTrue(e.getMessage().contains("train.profile_end_step"), e.getMessage());
    }

    /** Every span on a track is either disjoint from or inside the enclosing one (integer ns). */
    private static void assertNested(String track, List<long[]> spans) {
        spans.sort(Comparator.<long[]>comparingLong(s -> s[0]).thenComparing(s -> -s[1]));
        List<long[]> open = new ArrayList<>();
        for (long[] s : spans) {
            while (!open.isEmpty() && open.get(open.size() - 1)[1] <= s[0]) {
                open.remove(open.size() - 1);
            }
            if (!open.isEmpty()) {
                long[] parent = open.get(open.size() - 1);
                assertTrue(s[1] <= parent[1], "track " + track + ": span [" + s[0] + ", " + s[1]
                        + "] overlaps [" + parent[0] + ", " + parent[1] + "] without nesting");
            }
            open.add(s);
        }
    }

    private static long nanos(JsonNode micros) {
        return micros.decimalValue().movePointRight(3).longValueExact();
    }
}
