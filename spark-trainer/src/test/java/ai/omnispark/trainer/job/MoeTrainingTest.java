package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny Qwen3-MoE (sparse, dense, sparse layers; 4 experts, top-2; load-balancing loss on) through
 * the whole job: one rank with 4 micro-batches per step against FSDP on 2 ranks with 2 each, 12
 * steps. The aux term is per micro-batch (docs/moe.md), and with one row per micro-batch both runs
 * have the same micro-batches, so every loss, aux term and gradient norm must agree within 1e-5
 * relative and every final weight within 1e-5.
 */
class MoeTrainingTest {
    @TempDir
    static Path dir;

    private static Path model() throws IOException {
        Path file = dir.resolve("tiny-moe.json");
        Files.writeString(file, """
                {"architectures":["Qwen3MoeForCausalLM"],"model_type":"qwen3_moe","vocab_size":259,"hidden_size":32,
                 "intermediate_size":64,"num_hidden_layers":3,"num_attention_heads":4,"num_key_value_heads":2,
                 "head_dim":8,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":512,
                 "tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,"num_experts":4,
                 "num_experts_per_tok":2,"moe_intermediate_size":16,"decoder_sparse_step":1,"mlp_only_layers":[1],
                 "norm_topk_prob":true,"output_router_logits":true,"router_aux_loss_coef":0.01}
                """);
        return file;
    }

    private static Map<Long, StepResult> train(Path config, String out, String... sets) throws Exception {
        List<String> all = new ArrayList<>(List.of(
                "model.config_path=" + config, "data.train_path=synthetic://text", "data.max_seq_len=64",
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.lr=1e-3", "train.max_steps=12", "train.threads=1", "train.comm_timeout_s=30",
                "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return ai.omnispark.trainer.testing.TestRuns.train(Settings.fromTree(null, all, "test"));
    }


    @Test
    void fsdpOnTwoRanksMatchesOneRankWithTheAuxTerm() throws Exception {
        Path config = model();
        Map<Long, StepResult> one = train(config, "one", "train.data_parallel_mode=none");
        Map<Long, StepResult> two = train(config, "two", "train.world_size=2");
        assertEquals(12, one.size());
        assertEquals(one.keySet(), two.keySet());
        double worst = 0;
        for (long step : one.keySet()) {
            StepResult a = one.get(step);
            StepResult b = two.get(step);
            assertEquals(List.of("ce", "aux"), List.copyOf(a.lossTerms().keySet()), "metrics get loss_ce and loss_aux");
            double aux = a.lossTerms().get("aux");
            // coef 0.01 times aux, which is top_k (2) for a balanced router and at most num_experts
            assertTrue(aux >= 0.01 && aux <= 0.04, "step " + step + " loss_aux " + aux);
            assertEquals(a.loss(), a.lossTerms().get("ce") + aux, 1e-12 * a.loss(), "loss = ce + aux");
            for (double[] pair : new double[][] {{a.loss(), b.loss()}, {aux, b.lossTerms().get("aux")},
                    {a.gradNorm(), b.gradNorm()}}) {
                double rel = Math.abs(pair[0] - pair[1]) / Math.abs(pair[0]);
                worst = Math.max(worst, rel);
                assertTrue(rel <= 1e-5, "step " + step + ": one rank " + pair[0] + ", two ranks " + pair[1]);
            }
        }
        Map<String, float[]> wa = weights(dir.resolve("one/final_hf"));
        Map<String, float[]> wb = weights(dir.resolve("two/final_hf"));
        assertEquals(wa.keySet(), wb.keySet());
        assertTrue(wa.containsKey("model.layers.2.mlp.experts.3.down_proj.weight"));
        double worstWeight = 0;
        for (String name : wa.keySet()) {
            float[] x = wa.get(name);
            float[] y = wb.get(name);
            for (int i = 0; i < x.length; i++) {
                worstWeight = Math.max(worstWeight, Math.abs(x[i] - y[i]));
                assertTrue(Math.abs(x[i] - y[i]) <= 1e-5, name + "[" + i + "] " + y[i] + " vs " + x[i]);
            }
        }
        System.out.printf("MoE fsdp2 vs one rank: loss/aux/grad norm within %.2e relative, weights within %.2e; "
                + "loss %.4f -> %.4f, loss_aux %.5f -> %.5f%n", worst, worstWeight, one.get(1L).loss(),
                one.get(12L).loss(), one.get(1L).lossTerms().get("aux"), one.get(12L).lossTerms().get("aux"));
    }
}
