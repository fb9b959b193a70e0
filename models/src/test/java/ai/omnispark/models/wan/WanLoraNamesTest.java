package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The two namings against a table written out by hand from diffusers' convert_wan_to_diffusers.py
 * (TRANSFORMER_KEYS_RENAME_DICT, read in the direction original → diffusers): every kind of key of a
 * T2V and an I2V model, each with the suffixes it may carry, both ways.
 */
class WanLoraNamesTest {
    /** {diffusers, original}: one row per module or parameter kind. */
    private static final List<String[]> TABLE = List.of(
            new String[] {"blocks.7.attn1.to_q.weight", "blocks.7.self_attn.q.weight"},
            new String[] {"blocks.7.attn1.to_k.bias", "blocks.7.self_attn.k.bias"},
            new String[] {"blocks.7.attn1.to_v.lora_A.weight", "blocks.7.self_attn.v.lora_A.weight"},
            new String[] {"blocks.7.attn1.to_out.0.lora_B.default.weight", "blocks.7.self_attn.o.lora_B.default.weight"},
            new String[] {"blocks.7.attn1.norm_q.weight", "blocks.7.self_attn.norm_q.weight"},
            new String[] {"blocks.7.attn1.norm_k.weight", "blocks.7.self_attn.norm_k.weight"},
            new String[] {"blocks.7.attn2.to_q.lora_A.default.weight", "blocks.7.cross_attn.q.lora_A.default.weight"},
            new String[] {"blocks.7.attn2.to_k.weight", "blocks.7.cross_attn.k.weight"},
            new String[] {"blocks.7.attn2.to_v.bias", "blocks.7.cross_attn.v.bias"},
            new String[] {"blocks.7.attn2.to_out.0.lora_B.weight", "blocks.7.cross_attn.o.lora_B.weight"},
            new String[] {"blocks.7.attn2.norm_q.weight", "blocks.7.cross_attn.norm_q.weight"},
            new String[] {"blocks.7.attn2.norm_k.weight", "blocks.7.cross_attn.norm_k.weight"},
            new String[] {"blocks.7.attn2.add_k_proj.weight", "blocks.7.cross_attn.k_img.weight"},
            new String[] {"blocks.7.attn2.add_k_proj.lora_A.weight", "blocks.7.cross_attn.k_img.lora_A.weight"},
            new String[] {"blocks.7.attn2.add_v_proj.bias", "blocks.7.cross_attn.v_img.bias"},
            new String[] {"blocks.7.attn2.add_v_proj.lora_B.default.weight",
                    "blocks.7.cross_attn.v_img.lora_B.default.weight"},
            new String[] {"blocks.7.attn2.norm_added_k.weight", "blocks.7.cross_attn.norm_k_img.weight"},
            new String[] {"blocks.7.ffn.net.0.proj.weight", "blocks.7.ffn.0.weight"},
            new String[] {"blocks.7.ffn.net.0.proj.lora_A.weight", "blocks.7.ffn.0.lora_A.weight"},
            new String[] {"blocks.7.ffn.net.2.bias", "blocks.7.ffn.2.bias"},
            new String[] {"blocks.7.ffn.net.2.lora_B.default.weight", "blocks.7.ffn.2.lora_B.default.weight"},
            new String[] {"blocks.7.norm2.weight", "blocks.7.norm3.weight"},
            new String[] {"blocks.7.norm2.bias", "blocks.7.norm3.bias"},
            new String[] {"blocks.7.norm3.weight", "blocks.7.norm2.weight"},
            new String[] {"blocks.7.scale_shift_table", "blocks.7.modulation"},
            new String[] {"blocks.12.attn1.to_out.0", "blocks.12.self_attn.o"},
            new String[] {"blocks.0.ffn.net.0.proj", "blocks.0.ffn.0"},
            new String[] {"patch_embedding.weight", "patch_embedding.weight"},
            new String[] {"patch_embedding.bias", "patch_embedding.bias"},
            new String[] {"condition_embedder.time_embedder.linear_1.weight", "time_embedding.0.weight"},
            new String[] {"condition_embedder.time_embedder.linear_2.bias", "time_embedding.2.bias"},
            new String[] {"condition_embedder.time_proj.weight", "time_projection.1.weight"},
            new String[] {"condition_embedder.text_embedder.linear_1.bias", "text_embedding.0.bias"},
            new String[] {"condition_embedder.text_embedder.linear_2.weight", "text_embedding.2.weight"},
            new String[] {"condition_embedder.image_embedder.norm1.weight", "img_emb.proj.0.weight"},
            new String[] {"condition_embedder.image_embedder.ff.net.0.proj.weight", "img_emb.proj.1.weight"},
            new String[] {"condition_embedder.image_embedder.ff.net.2.bias", "img_emb.proj.3.bias"},
            new String[] {"condition_embedder.image_embedder.norm2.bias", "img_emb.proj.4.bias"},
            new String[] {"condition_embedder.image_embedder.pos_embed", "img_emb.emb_pos"},
            new String[] {"proj_out.weight", "head.head.weight"},
            new String[] {"proj_out.lora_A.weight", "head.head.lora_A.weight"},
            new String[] {"scale_shift_table", "head.modulation"});

    @Test
    void everyKeyKindRenamesBothWaysAndRoundTrips() {
        for (String[] row : TABLE) {
            assertEquals(row[1], WanLoraNames.toOriginal(row[0]), "diffusers → original of " + row[0]);
            assertEquals(row[0], WanLoraNames.toDiffusers(row[1]), "original → diffusers of " + row[1]);
            assertEquals(row[0], WanLoraNames.toDiffusers(WanLoraNames.toOriginal(row[0])), "round trip " + row[0]);
            assertEquals(row[1], WanLoraNames.toOriginal(WanLoraNames.toDiffusers(row[1])), "round trip " + row[1]);
            assertTrue(WanLoraNames.isDiffusers(row[0]), row[0]);
            assertTrue(WanLoraNames.isOriginal(row[1]), row[1]);
        }
    }

    @Test
    void theMappingIsOneToOneOverTheTable() {
        Set<String> originals = new HashSet<>();
        for (String[] row : TABLE) {
            assertTrue(originals.add(WanLoraNames.toOriginal(row[0])), "two keys become " + row[1]);
        }
    }

    @Test
    void loraFactorsAreTheLinearsOnesInEitherNaming() {
        assertTrue(WanLoraNames.isLoraFactor("blocks.3.attn1.to_q.lora_A.weight"));
        assertTrue(WanLoraNames.isLoraFactor("blocks.3.self_attn.q.lora_B.default.weight"));
        assertTrue(WanLoraNames.isLoraFactor("blocks.3.cross_attn.v_img.lora_A.weight"));
        assertTrue(WanLoraNames.isLoraFactor("blocks.3.ffn.net.2.lora_B.weight"));
        assertFalse(WanLoraNames.isLoraFactor("blocks.3.attn1.to_q.weight"));
        assertFalse(WanLoraNames.isLoraFactor("blocks.3.self_attn.q.bias"));
        assertFalse(WanLoraNames.isLoraFactor("base_model.model.blocks.3.attn1.to_q.lora_A.weight"));
    }

    @Test
    void unknownKeysFailNamingTheKey() {
        for (String bad : List.of("blocks.0.attn1.to_x.weight", "blocks.x.attn1.to_q.weight", "blocks.0.attn1.to_q.gamma",
                "blocks.0.norm2.lora_A.weight", "blocks.0.scale_shift_table.weight", "blocks.0.attn1.to_q.lora_A.other.weight",
                "lm_head.weight", "", "blocks.0.self_attn.q.weight")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WanLoraNames.toOriginal(bad),
                    bad);
            assertTrue(e.getMessage().contains("'" + bad + "' is no diffusers Wan key"), e.getMessage());
        }
        for (String bad : List.of("blocks.0.attn1.to_q.weight", "blocks.0.self_attn.qq.weight", "head.modulation.weight",
                "diffusion_model.blocks.0.self_attn.q.weight", "blocks.0.ffn.1.weight")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WanLoraNames.toDiffusers(bad),
                    bad);
            assertTrue(e.getMessage().contains("'" + bad + "' is no original Wan key"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> WanLoraNames.toOriginal(null));
    }
}
