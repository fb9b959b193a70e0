package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code score} on a MoE HF folder prints {@code aux_loss}: transformers' load_balancing_loss_func
 * over the scored ids without its coefficient (what Qwen3MoeForCausalLM returns with
 * output_router_logits), checked against the models module's PyTorch peer
 * (models/src/test/resources/moe/transformers_reference.py, float64, written from transformers'
 * sparse block and load_balancing_loss_func) within 1e-5 relative (the command runs in float32).
 * Skipped without Debian's /usr/bin/python3 with torch; the float64 Java reference check of the same
 * number is MoeRouterMetricsTest in the models module.
 */
class ScoreMoeAuxTest {
    private static final Path PYTHON = Path.of("/usr/bin/python3");
    /** The peer script, from this module's directory (where surefire runs). */
    private static final Path REFERENCE = Path.of("../models/src/test/resources/moe/transformers_reference.py");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int[] IDS = {3, 17, 42, 5, 5, 29, 11, 0, 48, 23, 7, 31};

    @TempDir
    Path tmp;

    @Test
    void scoreOfAMoeFolderPrintsTheUnscaledAuxLossOfTheScoredIds() throws Exception {
        Path hf = export(moeConfig());
        JsonNode scored = score(hf);
        assertEquals(IDS.length, scored.get("ids").size());
        assertTrue(scored.has("aux_loss"), scored.toString());
        double aux = scored.get("aux_loss").asDouble();
        // top_k (2) for a perfectly balanced router, at most num_experts (4)
        assertTrue(aux >= 1 && aux <= 4, "aux_loss " + aux);
        assertTrue(scored.has("experts.0.tokens_max") && !scored.has("experts.1.tokens_max"), scored.toString());

        Assumptions.assumeTrue(torchAvailable() && Files.isRegularFile(REFERENCE),
                "no /usr/bin/python3 with torch (apt-get install python3-torch) or no " + REFERENCE);
        double want = reference(hf).get("aux").asDouble();
        assertEquals(want, aux, 1e-5 * want, "aux_loss against the PyTorch load_balancing_loss_func");
    }

    /** Sparse, dense (mlp_only_layers), sparse; output_router_logits false as HF checkpoints often have it. */
    private ObjectNode moeConfig() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("Qwen3MoeForCausalLM");
        o.put("model_type", "qwen3_moe");
        o.put("vocab_size", 50);
        o.put("hidden_size", 16);
        o.put("intermediate_size", 24);
        o.put("num_hidden_layers", 3);
        o.put("num_attention_heads", 2);
        o.put("num_key_value_heads", 1);
        o.put("head_dim", 8);
        o.put("rope_theta", 10000.0);
        o.put("rms_norm_eps", 1e-6);
        o.put("tie_word_embeddings", false);
        o.put("initializer_range", 0.5);
        o.put("num_experts", 4);
        o.put("num_experts_per_tok", 2);
        o.put("moe_intermediate_size", 8);
        o.put("decoder_sparse_step", 1);
        o.putArray("mlp_only_layers").add(1);
        o.put("norm_topk_prob", true);
        o.put("output_router_logits", false);
        o.put("router_aux_loss_coef", 0.001);
        o.put("bos_token_id", 1);
        o.put("eos_token_id", 2);
        return o;
    }

    private Path export(ObjectNode config) throws IOException {
        Path hf = tmp.resolve("hf");
        try (RankContext rank = RankContext.single(1);
                Model model = ModelFamilies.build(config, ModelOptions.defaults());
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 11)) {
            rank.bindThread();
            HfCheckpoint.export(model, params, rank.manager(), hf, SafeDType.F32);
        }
        return hf;
    }

    private static JsonNode score(Path hf) throws IOException {
        StringBuilder ids = new StringBuilder();
        for (int id : IDS) {
            ids.append(ids.length() == 0 ? "" : ",").append(id);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"score", "--model", hf.toString(), "--ids", ids.toString(),
            "--threads", "1"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        String[] lines = text.strip().split("\n");
        return JSON.readTree(lines[lines.length - 1]);
    }

    private JsonNode reference(Path hf) throws Exception {
        ObjectNode rows = JSON.createObjectNode();
        ArrayNode ids = rows.putArray("input_ids").addArray();
        ArrayNode pos = rows.putArray("position_ids").addArray();
        ArrayNode doc = rows.putArray("doc_ids").addArray();
        for (int i = 0; i < IDS.length; i++) {
            ids.add(IDS[i]);
            pos.add(i);
            doc.add(0);
        }
        Path rowsFile = tmp.resolve("rows.json");
        JSON.writeValue(rowsFile.toFile(), rows);
        Path out = tmp.resolve("torch.json");
        Path log = tmp.resolve("torch.log");
        Process p = new ProcessBuilder(PYTHON.toString(), REFERENCE.toString(), hf.toString(), rowsFile.toString(),
                out.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("transformers_reference.py did not finish in 300 s");
        }
        assertEquals(0, p.exitValue(), "transformers_reference.py failed: " + Files.readString(log));
        assertFalse(Files.size(out) == 0);
        return JSON.readTree(out.toFile());
    }

    private static boolean torchAvailable() {
        if (!Files.isExecutable(PYTHON)) {
            return false;
        }
        try {
            Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
