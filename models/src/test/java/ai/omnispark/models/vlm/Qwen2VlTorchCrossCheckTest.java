package ai.omnispark.models.vlm;

import ai.omnispark.models.testing.TorchPeer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The family against a PyTorch forward written from transformers' Qwen2-VL code
 * (src/test/resources/vlm/transformers_reference.py: Conv3d patch embedding, rot_pos_emb from
 * grid_thw, the cu_seqlens block mask, PatchMerger, masked_scatter, get_rope_index and
 * apply_multimodal_rotary_pos_emb, each document of a packed row as its own sequence), both in
 * float64 on the weights of an F32 export: logits at every non-padding position within 1e-9, and
 * the reference's get_rope_index equal to the 3-D positions the tiny batch was built from. Needs
 * Debian's /usr/bin/python3 with python3-torch; skipped without it.
 */
class Qwen2VlTorchCrossCheckTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static RankContext rank;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    @ParameterizedTest(name = "tied={0}")
    @ValueSource(booleans = {false, true})
    void logitsMatchTransformersSemantics(boolean tied) throws Exception {
        TorchPeer.assume();
        Path hf = tmp.resolve("hf");
        try (Qwen2VlModel model = TinyVlm.model(TinyVlm.json(tied), "sdpa");
                LocalParams f32 = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 23);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 1)) {
            HfCheckpoint.export(model, f32, rank.manager(), hf, SafeDType.F32);
            HfCheckpoint.load(model, params, rank.manager(), hf);
            double[][] pixels = TinyVlm.pixels(model.config().vision(), 11);
            double[] logits = TinyVlm.logits(rank.manager(), model, params, DataType.FLOAT64, pixels);

            JsonNode torch = runReference(hf, pixels);
            int vocab = model.config().vocabSize();
            double worst = 0;
            for (int r = 0; r < 2; r++) {
                for (int i = 0; i < TinyVlm.SEQ; i++) {
                    int flat = r * TinyVlm.SEQ + i;
                    if (TinyVlm.DOCS[flat] < 0) {
                        continue;
                    }
                    for (int axis = 0; axis < 3; axis++) {
                        assertEquals(TinyVlm.POSITIONS[axis][flat], torch.get("positions").get(r).get(axis).get(i).asInt(),
                                "get_rope_index axis " + axis + " row " + r + " position " + i);
                    }
                    for (int v = 0; v < vocab; v++) {
                        double want = torch.get("logits").get(r).get(i).get(v).asDouble();
                        double got = logits[flat * vocab + v];
                        worst = Math.max(worst, Math.abs(want - got));
                        assertEquals(want, got, 1e-9, "logit row " + r + " position " + i + " token " + v);
                    }
                }
            }
            System.out.printf("qwen2_vl tied=%s vs the PyTorch reference: logits within %.2e%n", tied, worst);
        }
    }

    private JsonNode runReference(Path hf, double[][] pixels) throws Exception {
        ObjectNode in = JSON.createObjectNode();
        ArrayNode ids = in.putArray("input_ids");
        ArrayNode docs = in.putArray("doc_ids");
        for (int r = 0; r < 2; r++) {
            ArrayNode idRow = ids.addArray();
            ArrayNode docRow = docs.addArray();
            for (int i = 0; i < TinyVlm.SEQ; i++) {
                idRow.add(TinyVlm.IDS[r * TinyVlm.SEQ + i]);
                docRow.add(TinyVlm.DOCS[r * TinyVlm.SEQ + i]);
            }
        }
        ArrayNode px = in.putArray("pixel_values");
        for (double[] row : pixels) {
            ArrayNode a = px.addArray();
            for (double v : row) {
                a.add(v);
            }
        }
        ArrayNode grids = in.putArray("grid_thw");
        for (int[] g : TinyVlm.GRIDS) {
            grids.addArray().add(g[0]).add(g[1]).add(g[2]);
        }
        Path inputs = tmp.resolve("inputs.json");
        JSON.writeValue(inputs.toFile(), in);
        Path out = tmp.resolve("torch.json");
        TorchPeer.run("/vlm/transformers_reference.py", tmp, 300, hf.toString(), inputs.toString(), out.toString());
        return JSON.readTree(out.toFile());
    }

}
