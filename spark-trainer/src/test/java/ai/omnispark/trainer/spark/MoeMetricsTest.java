package ai.omnispark.trainer.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TestRuns;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A tiny MoE's router metrics in metrics.jsonl: a Spark run on 2 FSDP ranks writes {@code aux_loss}
 * (= loss_aux / router_aux_loss_coef) and tokens per expert of each sparse layer, and on step 1 (same
 * weights, same global batch) those counts summed over the 2 data-parallel ranks equal one rank's
 * over the whole batch (4 micro-batches) exactly. That the counts are the routing's is checked
 * against a float64 recount in the models module (MoeRouterMetricsTest).
 */
class MoeMetricsTest {
    private static final double COEF = 0.01;
    private static final List<String> LAYER_FIELDS = List.of("experts.0.tokens_min", "experts.0.tokens_max",
            "experts.0.tokens_stddev", "experts.2.tokens_min", "experts.2.tokens_max", "experts.2.tokens_stddev");

    @TempDir
    static Path dir;

    private static Settings settings(Path model, String out, String... sets) {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + model, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.max_steps=3", "train.threads=1", "train.comm_timeout_s=60",
                "train.log_steps=1", "train.save_hf_weights=false"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    @Test
    void metricsJsonlHasTheUnscaledAuxLossAndTokensPerExpertSummedOverRanks() throws Exception {
        Path model = dir.resolve("tiny-moe.json");
        Files.writeString(model, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[1],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":%s}
                """.formatted(COEF));
        Map<Long, StepResult> one = TestRuns.train(settings(model, "one", "train.data_parallel_mode=none"));

        SparkSession spark = SparkSession.builder().master("local[2]").appName("omnispark-moe-metrics")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        try {
            OmniTrainer.create(settings(model, "two", "train.world_size=2"))
                    .console(new PrintStream(new ByteArrayOutputStream())).fit(spark);
        } finally {
            spark.stop();
        }
        List<String> lines = Files.readAllLines(dir.resolve("two/metrics.jsonl"));
        assertEquals(3, lines.size());
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode m = json.readTree(line);
            double aux = m.get("aux_loss").asDouble();
            assertEquals(m.get("loss_aux").asDouble() / COEF, aux, 1e-12 * aux, line);
            // 2 (= top_k) for a perfectly balanced router, at most num_experts
            assertTrue(aux >= 1.9 && aux <= 4, line);
            for (int layer : new int[] {0, 2}) {
                double min = m.get("experts." + layer + ".tokens_min").asDouble();
                double max = m.get("experts." + layer + ".tokens_max").asDouble();
                assertTrue(0 <= min && min <= max && m.get("experts." + layer + ".tokens_stddev").asDouble() >= 0, line);
            }
            assertTrue(!m.has("experts.1.tokens_min"), "layer 1 is dense: " + line);
        }
        JsonNode first = json.readTree(lines.get(0));
        Map<String, Double> single = one.get(1L).metrics();
        for (String field : LAYER_FIELDS) {
            assertEquals(single.get(field), first.get(field).asDouble(), 0.0, field + ": 2 ranks summed vs 1 rank, step 1");
        }
        assertEquals(single.get("aux_loss"), first.get("aux_loss").asDouble(), 1e-5 * single.get("aux_loss"));
        // The two experts a token takes and every routed token: min and max bracket the mean k * tokens / E.
        assertTrue(single.get("experts.0.tokens_max") > single.get("experts.0.tokens_min"), single.toString());
    }

    /**
     * Expert-parallel ranks count the tokens they route (before dispatch), Ulysses ranks those of
     * their slice of each row: on step 1 the counts over 2 ranks with ep 2, or sp 2, equal one rank's
     * over the same global batch. Where the family does not run that layout yet, it is refused naming
     * the mesh dim.
     */
    @ParameterizedTest(name = "sp {0} ep {1}")
    @CsvSource({"1,2", "2,1"})
    void parallelRanksCountTheTokensTheyRoute(int sp, int ep) throws Exception {
        Path model = dir.resolve("tiny-moe-sp" + sp + "-ep" + ep + ".json");
        Files.writeString(model, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[1],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":%s}
                """.formatted(COEF));
        Map<Long, StepResult> one = TestRuns.train(settings(model, "one-sp" + sp + "-ep" + ep, "train.data_parallel_mode=none",
                "train.max_steps=1"));
        Map<Long, StepResult> two;
        try {
            two = TestRuns.train(settings(model, "sp" + sp + "-ep" + ep, "train.world_size=2",
                    "train.ulysses_parallel_size=" + sp, "train.expert_parallel_size=" + ep, "train.max_steps=1"));
        } catch (IllegalArgumentException e) {
            String dim = sp > 1 ? "sp" : "ep";
            assertTrue(e.getMessage().contains("mesh dim " + dim + " = 2"), e.getMessage());
            return;
        }
        Map<String, Double> single = one.get(1L).metrics();
        Map<String, Double> split = two.get(1L).metrics();
        for (String field : LAYER_FIELDS) {
            assertEquals(single.get(field), split.get(field), 0.0, field + ": sp " + sp + " ep " + ep
                    + " vs 1 rank, step 1");
        }
        assertTrue(split.get("experts.0.tokens_max") > 0, split.toString());
        assertEquals(single.get("aux_loss"), split.get("aux_loss"), 1e-5 * single.get("aux_loss"));
    }
}
