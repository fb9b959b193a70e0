package ai.omnispark.models.moe;

import ai.omnispark.models.testing.TorchPeer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The family against a PyTorch forward written from transformers' Qwen*MoeSparseMoeBlock and
 * load_balancing_loss_func (src/test/resources/moe/transformers_reference.py), both in float64 on
 * the weights of an F32 export: logits at every non-padding position within 1e-9 and the aux loss
 * within 1e-12. Needs Debian's /usr/bin/python3 with python3-torch; skipped without it.
 */
class MoeTorchCrossCheckTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SEQ = 9;
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

    @ParameterizedTest(name = "{0} tied={1}")
    @CsvSource({"qwen3_moe,true", "qwen2_moe,false"})
    void logitsAndAuxMatchTransformersSemantics(String family, boolean tied) throws Exception {
        TorchPeer.assume();
        List<Sample> rows = TinyMoe.packedRows(SEQ, 11, 9);
        Path hf = tmp.resolve("hf");
        try (MoeLM model = TinyMoe.model(TinyMoe.json(family, tied), "sdpa");
                LocalParams f32 = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 23);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 1)) {
            HfCheckpoint.export(model, f32, rank.manager(), hf, SafeDType.F32);
            HfCheckpoint.load(model, params, rank.manager(), hf);
            double[] logits = TinyMoe.logits(rank.manager(), model, params, DataType.FLOAT64, rows);
            double[] terms = TinyMoe.terms(rank.manager(), model, params, DataType.FLOAT64, rows);
            double aux = terms[1] / (TinyMoe.labelled(rows) * model.config().routerAuxLossCoef());

            JsonNode torch = runReference(hf, rows);
            int vocab = model.config().vocabSize();
            double worst = 0;
            for (int r = 0; r < rows.size(); r++) {
                int[] doc = rows.get(r).ints(Sample.DOC_IDS);
                for (int i = 0; i < SEQ; i++) {
                    if (doc[i] < 0) {
                        continue;
                    }
                    for (int v = 0; v < vocab; v++) {
                        double want = torch.get("logits").get(r).get(i).get(v).asDouble();
                        double got = logits[(r * SEQ + i) * vocab + v];
                        worst = Math.max(worst, Math.abs(want - got));
                        assertEquals(want, got, 1e-9, "logit row " + r + " position " + i + " token " + v);
                    }
                }
            }
            assertEquals(torch.get("aux").asDouble(), aux, 1e-12, "aux loss");
            System.out.printf("%s vs the PyTorch reference: logits within %.2e, aux %.10f vs %.10f%n", family, worst, aux,
                    torch.get("aux").asDouble());
        }
    }

    private JsonNode runReference(Path hf, List<Sample> rows) throws Exception {
        ObjectNode in = JSON.createObjectNode();
        for (String column : List.of(Sample.INPUT_IDS, Sample.POSITION_IDS, Sample.DOC_IDS)) {
            ArrayNode a = in.putArray(column);
            for (Sample s : rows) {
                ArrayNode row = a.addArray();
                for (int v : s.ints(column)) {
                    row.add(v);
                }
            }
        }
        Path rowsFile = tmp.resolve("rows.json");
        JSON.writeValue(rowsFile.toFile(), in);
        Path out = tmp.resolve("torch.json");
        TorchPeer.run("/moe/transformers_reference.py", tmp, 300, hf.toString(), rowsFile.toString(), out.toString());
        return JSON.readTree(out.toFile());
    }
}
