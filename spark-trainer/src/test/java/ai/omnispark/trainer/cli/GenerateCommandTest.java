package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate} through {@code Main}, checked against {@code score}: at every generated
 * position, no other token of the vocabulary has a higher log-prob given the same prefix.
 */
class GenerateCommandTest {
    private static final int NEW_TOKENS = 4;

    @TempDir
    static Path tmp;
    static Path model;

    /** The tiny README model with fresh (seeded) weights and the byte tokenizer's files. */
    @BeforeAll
    static void exportModel() throws Exception {
        model = tmp.resolve("hf");
        try (RankContext rank = RankContext.single(1);
                RankAssembly loaded = RankAssembly.of(ModelFamilies.load(Path.of("..", "conf", "models",
                        "tiny-qwen3.json"), ModelOptions.defaults()), rank.manager(), DataType.FLOAT32, 7, null, false)) {
            rank.bindThread();
            Files.createDirectories(model);
            HfCheckpoint.write(loaded.model(), HfCheckpoint.weights(loaded.model(), loaded.params(), rank.manager(),
                    SafeDType.F32), SafeDType.F32, new ByteTokenizer().hfFiles(),
                    name -> Files.newOutputStream(model.resolve(name)));
        }
    }

    @Test
    void everyNewTokenIsTheMostLikelyOneAndTheTextIsItsDecoding() throws Exception {
        JsonNode result = run(0, "generate", "--model", model.toString(), "--text", "a red ",
                "--max-new-tokens", String.valueOf(NEW_TOKENS), "--threads", "1");
        int[] prompt = ints(result.get("prompt_ids"));
        int[] generated = ints(result.get("ids"));
        assertArrayEquals(new ByteTokenizer().encode("a red "), prompt);
        assertEquals(NEW_TOKENS, generated.length, result.toString());
        assertEquals("max_new_tokens", result.get("stop").asText());
        assertEquals(new ByteTokenizer().decode(generated), result.get("text").asText());

        try (RankContext rank = RankContext.single(1);
                RankAssembly loaded = RankAssembly.fromHf(model, ModelOptions.defaults(), rank.manager(),
                        DataType.FLOAT32)) {
            rank.bindThread();
            int vocab = loaded.model().vocabSize();
            for (int t = 0; t < generated.length; t++) {
                int[] seq = Arrays.copyOf(prompt, prompt.length + t + 1);
                System.arraycopy(generated, 0, seq, prompt.length, t);
                int last = seq.length - 1;
                double best = Double.NEGATIVE_INFINITY;
                int bestId = -1;
                for (int v = 0; v < vocab; v++) {
                    seq[last] = v;
                    double lp = ScoreCommand.logprobs(loaded.model(), loaded.params(), rank.manager(), seq)[last];
                    if (lp > best) {
                        best = lp;
                        bestId = v;
                    }
                }
                seq[last] = generated[t];
                double chosen = ScoreCommand.logprobs(loaded.model(), loaded.params(), rank.manager(), seq)[last];
                assertTrue(chosen >= best - 1e-6, "token " + t + ": generated " + generated[t] + " (log-prob "
                        + chosen + ") but " + bestId + " scores " + best);
            }

            // With the third token declared end-of-sequence, generation stops before it.
            GenerateCommand.Greedy stopped = GenerateCommand.greedy(loaded.model(), loaded.params(), rank.manager(),
                    prompt, NEW_TOKENS, generated[2]);
            assertTrue(stopped.stoppedAtEos());
            int firstEos = 0;
            while (generated[firstEos] != generated[2]) {
                firstEos++;
            }
            assertArrayEquals(Arrays.copyOf(generated, firstEos), stopped.ids());
        }
    }

    @Test
    void idsWorkAndBadInputsExitTwoNamingTheOption() throws Exception {
        JsonNode byIds = run(0, "generate", "--model", model.toString(), "--ids", "97,32,114,101,100,32",
                "--max-new-tokens", "2", "--threads", "1");
        assertEquals(2, byIds.get("ids").size());
        assertTrue(runText(2, "generate", "--model", model.toString(), "--text", "a", "--max-new-tokens", "0")
                .contains("--max-new-tokens must be > 0, got 0"));
        assertTrue(runText(2, "generate", "--model", model.toString()).contains("exactly one of --text and --ids"));
        assertTrue(runText(2, "generate", "--model", model.toString(), "--ids", "99999")
                .contains("outside the model's vocabulary"));
    }

    private static JsonNode run(int expectedExit, String... argv) throws Exception {
        String text = runText(expectedExit, argv);
        String[] lines = text.strip().split("\n");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }

    private static String runText(int expectedExit, String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, code, text);
        return text;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
