package ai.omnispark.trainer.perf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Sample;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model FLOPs of one training step against counts done by hand from the config fields. The
 * configs go through the family's loader and come back from {@code Model#hfConfig}, so the keys
 * read are the ones a real model exports.
 */
class StepFlopsTest {
    private static final Path MODELS = Path.of("..", "conf", "models");

    @TempDir
    Path dir;

    private static JsonNode exported(Path config) throws Exception {
        try (Model m = ModelFamilies.load(config, ModelOptions.defaults())) {
            return m.hfConfig("float32");
        }
    }

    private static Sample row(int... docIds) {
        int[] zeros = new int[docIds.length];
        return Sample.tokens(zeros, zeros, zeros, docIds);
    }

    @Test
    void denseDecoderCountsMatmulsHeadAndPerDocumentCausalPairs() throws Exception {
        Path config = dir.resolve("dense.json");
        Files.writeString(config, """
                {"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":259,"hidden_size":8,
                 "intermediate_size":12,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,
                 "head_dim":4,"rms_norm_eps":1e-6,"rope_theta":10000.0,"max_position_embeddings":64,
                 "tie_word_embeddings":true,"bos_token_id":256,"eos_token_id":257}
                """);
        // per layer: q 8x8 = 64, k and v 8x4 = 32 each, o 64, MLP 3 x 8 x 12 = 288 -> 480; 2 layers 960;
        // head 8 x 259 = 2072: 3032 matmul parameters a token passes.
        // rows: docs of 3 and 2 then a pad (5 tokens, 6 + 3 pairs); one doc of 6 (6 tokens, 21 pairs)
        double expected = 6.0 * 3032 * 11 + 2 * 2 * 3 * 2 * 2 * 4 * 30; // 200112 + 5760
        assertEquals(205_872, expected);
        double flops = StepFlops.of(exported(config), List.of(row(0, 0, 0, 1, 1, -1), row(0, 0, 0, 0, 0, 0)));
        assertEquals(expected, flops, 1e-9);
    }

    @Test
    void moeCountsRouterAndTopKExpertsOnSparseLayersOnly() throws Exception {
        String base = Files.readString(MODELS.resolve("tiny-qwen3-moe.json"));
        Path config = dir.resolve("moe.json");
        Files.writeString(config, base.replace("\"hidden_size\": 128", "\"hidden_size\": 16")
                .replace("\"intermediate_size\": 384", "\"intermediate_size\": 24")
                .replace("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 3")
                .replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 2")
                .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 1")
                .replace("\"head_dim\": 32", "\"head_dim\": 8")
                .replace("\"num_experts\": 8", "\"num_experts\": 4")
                .replace("\"moe_intermediate_size\": 96", "\"moe_intermediate_size\": 6")
                .replace("\"mlp_only_layers\": []", "\"mlp_only_layers\": [0]"));
        // attention per layer: q 16x16 = 256, k, v 16x8 = 128 each, o 256 -> 768.
        // layer 0 (mlp_only): dense MLP 3 x 16 x 24 = 1152; layers 1, 2: router 16 x 4 = 64 and
        // top-2 experts 2 x 3 x 16 x 6 = 576. Head 16 x 259 = 4144.
        double params = 3 * 768 + 1152 + 2 * (64 + 576) + 4144;
        assertEquals(8880, params);
        // one row: a doc of 3, a doc of 1, two pads: 4 tokens, 6 + 1 = 7 causal pairs; 3 layers, 2 heads of 8
        double expected = 6 * params * 4 + 12.0 * 3 * 2 * 8 * 7;
        double flops = StepFlops.of(exported(config), List.of(row(0, 0, 0, 1, -1, -1)));
        assertEquals(217_152, flops, 1e-9);
        assertEquals(expected, flops, 1e-9);

        // qwen2_moe adds a shared expert (3 x 16 x 10) and its gate (16 x 1) on each sparse layer
        Path shared = dir.resolve("moe-shared.json");
        Files.writeString(shared, Files.readString(config).replace("\"qwen3_moe\"", "\"qwen2_moe\"")
                .replace("\"mlp_only_layers\"", "\"shared_expert_intermediate_size\": 10, \"mlp_only_layers\""));
        double sharedParams = params + 2 * (3 * 16 * 10 + 16);
        assertEquals(6 * sharedParams * 4 + 12.0 * 3 * 2 * 8 * 7,
                StepFlops.of(exported(shared), List.of(row(0, 0, 0, 1, -1, -1))), 1e-9);
    }

    @Test
    void wanCountsBlockLinearsEmbeddersAndFullSelfAndCrossAttention() throws Exception {
        // tiny-wan-t2v: D = 2 x 16 = 32, in/out 4, patch 1x2x2, text_dim 32, freq_dim 32, ffn 128, 2 layers.
        // latent (4, 2, 4, 4): S = 2 x 2 x 2 = 8 patch tokens; L = 3 text tokens. Per row, multiply-adds:
        long patch = 8 * (4 * 4 * 32 + 32 * 4 * 4); // patch embedding and proj_out: 8192
        long text = 3 * (32 * 32 + 32 * 32); // text embedder: 6144
        long time = 32 * 32 + 32 * 32 + 32 * 192; // time embedder and time_proj: 8192
        long blocks = 2 * (8 * (6 * 32 * 32 + 2 * 32 * 128) + 3 * 2 * 32 * 32); // 241664
        long attention = 12L * 2 * 32 * (8 * 8 + 8 * 3); // self 8 x 8 pairs, cross 8 x 3
        double expected = 2 * (6.0 * (patch + text + time + blocks) + attention);
        assertEquals(3_305_472, expected);
        Sample row = Sample.latents(new float[4 * 2 * 4 * 4], new int[] {4, 2, 4, 4}, new float[3 * 32],
                new int[] {3, 32}, null, null, null);
        assertEquals(expected, StepFlops.of(exported(MODELS.resolve("tiny-wan-t2v.json")), List.of(row, row)), 1e-9);
    }

    @Test
    void familiesWithoutAFlopModelAreRefusedByName() throws Exception {
        IllegalArgumentException vlm = assertThrows(IllegalArgumentException.class,
                () -> StepFlops.of(exported(MODELS.resolve("tiny-qwen2vl.json")), List.of(row(0, 0))));
        assertTrue(vlm.getMessage().contains("no FLOP model for family qwen2_vl"), vlm.getMessage());
        // image tokens (CLIP, attn2's added k/v) are not in the Wan model; conditioning latents are (in_channels)
        Path clip = dir.resolve("wan-clip.json");
        Files.writeString(clip, Files.readString(MODELS.resolve("tiny-wan-t2v.json"))
                .replace("\"image_dim\": null", "\"image_dim\": 32")
                .replace("\"added_kv_proj_dim\": null", "\"added_kv_proj_dim\": 32"));
        Sample latentRow = Sample.latents(new float[4 * 2 * 4 * 4], new int[] {4, 2, 4, 4}, new float[3 * 32],
                new int[] {3, 32}, null, null, null);
        IllegalArgumentException i2v = assertThrows(IllegalArgumentException.class,
                () -> StepFlops.of(exported(clip), List.of(latentRow)));
        assertTrue(i2v.getMessage().contains("no FLOP model for family WanTransformer3DModel image-to-video"),
                i2v.getMessage());
    }
}
