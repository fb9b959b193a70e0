package ai.omnispark.models.wan;

import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The Wan DiT's parameter units under their diffusers names: "embed" (patch_embedding.*,
 * condition_embedder.*), "blocks.i" (one per transformer block), "head" (proj_out.*,
 * scale_shift_table). Weights start N(0, 0.02), biases 0, norm weights 1, the modulation tables
 * N(0, 1/D) as diffusers' randn / sqrt(D).
 */
final class WanLayouts {
    static final String EMBED_UNIT = "embed";
    static final String HEAD_UNIT = "head";
    static final String PATCH_EMBEDDING = "patch_embedding";
    static final String TIME_LINEAR_1 = "condition_embedder.time_embedder.linear_1";
    static final String TIME_LINEAR_2 = "condition_embedder.time_embedder.linear_2";
    static final String TIME_PROJ = "condition_embedder.time_proj";
    static final String TEXT_LINEAR_1 = "condition_embedder.text_embedder.linear_1";
    static final String TEXT_LINEAR_2 = "condition_embedder.text_embedder.linear_2";
    static final String IMAGE_EMBEDDER = "condition_embedder.image_embedder.";
    static final String PROJ_OUT = "proj_out";
    static final String SCALE_SHIFT_TABLE = "scale_shift_table";
    /** The attention linears of attn1 and attn2, in the order a block computes them. */
    static final List<String> ATTENTION_LINEARS = List.of("to_q", "to_k", "to_v", "to_out.0");
    static final String FFN_UP = "ffn.net.0.proj";
    static final String FFN_DOWN = "ffn.net.2";
    /** The adaptable linears in words, for a lora_modules entry that matches none. */
    static final String LORA_KINDS = "attn1/attn2 to_q, to_k, to_v, to_out.0, ffn.net.0.proj and ffn.net.2 of every "
            + "block (image-to-video: also attn2.add_k_proj, attn2.add_v_proj)";

    private WanLayouts() {}

    static String blockUnit(int i) {
        return "blocks." + i;
    }

    static String block(int i, String suffix) {
        return blockUnit(i) + "." + suffix;
    }

    static List<UnitLayout> units(WanConfig c) {
        List<UnitLayout> units = new ArrayList<>();
        units.add(embed(c));
        for (int i = 0; i < c.numLayers(); i++) {
            units.add(block(c, i));
        }
        units.add(head(c));
        return units;
    }

    static UnitLayout embed(WanConfig c) {
        long d = c.dim();
        int[] p = c.patchSize();
        List<ParamSpec> s = new ArrayList<>();
        s.add(ParamSpec.of(PATCH_EMBEDDING + ".weight", xavier((long) c.inChannels() * p[0] * p[1] * p[2], d), d,
                c.inChannels(), p[0], p[1], p[2]));
        s.add(bias(PATCH_EMBEDDING, d));
        linear(s, TIME_LINEAR_1, c.freqDim(), d);
        linear(s, TIME_LINEAR_2, d, d);
        linear(s, TIME_PROJ, d, 6 * d);
        linear(s, TEXT_LINEAR_1, c.textDim(), d);
        linear(s, TEXT_LINEAR_2, d, d);
        if (c.isImageToVideo()) {
            long img = c.imageDim();
            layerNorm(s, IMAGE_EMBEDDER + "norm1", img);
            linear(s, IMAGE_EMBEDDER + "ff.net.0.proj", img, img);
            linear(s, IMAGE_EMBEDDER + "ff.net.2", img, d);
            layerNorm(s, IMAGE_EMBEDDER + "norm2", d);
        }
        return new UnitLayout(EMBED_UNIT, s);
    }

    static UnitLayout block(WanConfig c, int i) {
        long d = c.dim();
        List<ParamSpec> s = new ArrayList<>();
        s.add(new ParamSpec(block(i, SCALE_SHIFT_TABLE), new ai.djl.ndarray.types.Shape(1, 6, d),
                Init.normal(1 / Math.sqrt(d)), false, true));
        for (String attn : List.of("attn1", "attn2")) {
            for (String l : ATTENTION_LINEARS) {
                linear(s, block(i, attn + "." + l), d, d);
            }
            s.add(ParamSpec.of(block(i, attn + ".norm_q.weight"), Init.ones(), d));
            s.add(ParamSpec.of(block(i, attn + ".norm_k.weight"), Init.ones(), d));
        }
        if (c.isImageToVideo()) {
            linear(s, block(i, "attn2.add_k_proj"), c.addedKvProjDim(), d);
            linear(s, block(i, "attn2.add_v_proj"), c.addedKvProjDim(), d);
            s.add(ParamSpec.of(block(i, "attn2.norm_added_k.weight"), Init.ones(), d));
        }
        if (c.crossAttnNorm()) {
            layerNorm(s, block(i, "norm2"), d);
        }
        linear(s, block(i, FFN_UP), d, c.ffnDim());
        linear(s, block(i, FFN_DOWN), c.ffnDim(), d);
        return new UnitLayout(blockUnit(i), s);
    }

    static UnitLayout head(WanConfig c) {
        long d = c.dim();
        List<ParamSpec> s = new ArrayList<>();
        linear(s, PROJ_OUT, d, (long) c.outChannels() * c.patchVolume());
        s.add(new ParamSpec(SCALE_SHIFT_TABLE, new ai.djl.ndarray.types.Shape(1, 2, d), Init.normal(1 / Math.sqrt(d)),
                false, true));
        return new UnitLayout(HEAD_UNIT, s);
    }

    /** Every linear LoRA may adapt, block by block in compute order, with diffusers' module names. */
    static List<LoraTargets.Candidate> loraCandidates(WanConfig c) {
        long d = c.dim();
        List<LoraTargets.Candidate> list = new ArrayList<>();
        for (int i = 0; i < c.numLayers(); i++) {
            String unit = blockUnit(i);
            for (String attn : List.of("attn1", "attn2")) {
                for (String l : ATTENTION_LINEARS) {
                    list.add(new LoraTargets.Candidate(unit, block(i, attn + "." + l), d, d));
                }
            }
            if (c.isImageToVideo()) {
                list.add(new LoraTargets.Candidate(unit, block(i, "attn2.add_k_proj"), c.addedKvProjDim(), d));
                list.add(new LoraTargets.Candidate(unit, block(i, "attn2.add_v_proj"), c.addedKvProjDim(), d));
            }
            list.add(new LoraTargets.Candidate(unit, block(i, FFN_UP), d, c.ffnDim()));
            list.add(new LoraTargets.Candidate(unit, block(i, FFN_DOWN), c.ffnDim(), d));
        }
        return list;
    }

    private static void linear(List<ParamSpec> s, String name, long in, long out) {
        s.add(ParamSpec.of(name + ".weight", xavier(in, out), out, in));
        s.add(bias(name, out));
    }

    /**
     * Xavier's variance, 2 / (fan_in + fan_out), as Wan's own init_weights gives its linears and
     * patch embedding (uniform there, normal here). A fixed 0.02 shrinks a signal by 0.02·sqrt(in)
     * per linear: 0.11 at a tiny model's width 32, so the text reached the video through five such
     * layers at 1e-5 of its size and the tiny text-to-video model learned to ignore its prompt.
     */
    private static Init xavier(long fanIn, long fanOut) {
        return Init.normal(Math.sqrt(2.0 / (fanIn + fanOut)));
    }

    private static ParamSpec bias(String name, long n) {
        return ParamSpec.of(name + ".bias", Init.zeros(), n);
    }

    private static void layerNorm(List<ParamSpec> s, String name, long n) {
        s.add(ParamSpec.of(name + ".weight", Init.ones(), n));
        s.add(ParamSpec.of(name + ".bias", Init.zeros(), n));
    }
}
