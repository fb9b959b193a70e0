package ai.omnispark.models.wan;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parameter and LoRA key names of Wan 2.1 in both namings: diffusers' {@code WanTransformer3DModel}
 * (what this project trains under) and the original Wan code's {@code WanModel} (what the source
 * article's checkpoints and the inference side use). The table is diffusers' own conversion script
 * read backwards: attn1 → self_attn, attn2 → cross_attn, to_q/to_k/to_v/to_out.0 → q/k/v/o,
 * add_k_proj/add_v_proj → k_img/v_img, norm_added_k → norm_k_img, ffn.net.0.proj → ffn.0,
 * ffn.net.2 → ffn.2, a block's scale_shift_table → modulation, norm2 ↔ norm3 (the original calls its
 * norms in the order norm1, norm3, norm2, diffusers renumbered them), and the embedders and head.
 *
 * <p>A key is a module path ({@code blocks.3.attn1.to_q}), optionally followed by what the module
 * holds: {@code .weight}, {@code .bias}, and on a linear its LoRA factors {@code .lora_A.weight},
 * {@code .lora_B.weight} or PEFT's named-adapter form {@code .lora_A.default.weight}; a bare
 * parameter ({@code scale_shift_table}, {@code modulation}, {@code pos_embed}) takes nothing after
 * it. The suffix is kept as it is. A key that is none of these fails naming it: nothing is renamed
 * by guesswork.
 */
public final class WanLoraNames {
    private WanLoraNames() {}

    /** What a named thing holds, which decides the suffixes it may carry. */
    private enum Kind {
        LINEAR(List.of(".weight", ".bias", ".lora_A.weight", ".lora_B.weight", ".lora_A.default.weight",
                ".lora_B.default.weight")),
        NORM(List.of(".weight", ".bias")),
        CONV(List.of(".weight", ".bias")),
        PARAMETER(List.of());

        final List<String> suffixes;

        Kind(List<String> suffixes) {
            this.suffixes = suffixes;
        }
    }

    /** One module or parameter: its diffusers path and its original path (inside a block when in BLOCK). */
    private record Name(String diffusers, String original, Kind kind) {
        String in(boolean diffusersNaming) {
            return diffusersNaming ? diffusers : original;
        }
    }

    /** Inside {@code blocks.N.}. */
    private static final List<Name> BLOCK = List.of(
            new Name("attn1.to_q", "self_attn.q", Kind.LINEAR),
            new Name("attn1.to_k", "self_attn.k", Kind.LINEAR),
            new Name("attn1.to_v", "self_attn.v", Kind.LINEAR),
            new Name("attn1.to_out.0", "self_attn.o", Kind.LINEAR),
            new Name("attn1.norm_q", "self_attn.norm_q", Kind.NORM),
            new Name("attn1.norm_k", "self_attn.norm_k", Kind.NORM),
            new Name("attn2.to_q", "cross_attn.q", Kind.LINEAR),
            new Name("attn2.to_k", "cross_attn.k", Kind.LINEAR),
            new Name("attn2.to_v", "cross_attn.v", Kind.LINEAR),
            new Name("attn2.to_out.0", "cross_attn.o", Kind.LINEAR),
            new Name("attn2.norm_q", "cross_attn.norm_q", Kind.NORM),
            new Name("attn2.norm_k", "cross_attn.norm_k", Kind.NORM),
            new Name("attn2.add_k_proj", "cross_attn.k_img", Kind.LINEAR),
            new Name("attn2.add_v_proj", "cross_attn.v_img", Kind.LINEAR),
            new Name("attn2.norm_added_k", "cross_attn.norm_k_img", Kind.NORM),
            new Name("ffn.net.0.proj", "ffn.0", Kind.LINEAR),
            new Name("ffn.net.2", "ffn.2", Kind.LINEAR),
            new Name("norm1", "norm1", Kind.NORM),
            new Name("norm2", "norm3", Kind.NORM),
            new Name("norm3", "norm2", Kind.NORM),
            new Name("scale_shift_table", "modulation", Kind.PARAMETER));

    /** Outside the blocks. */
    private static final List<Name> TOP = List.of(
            new Name("patch_embedding", "patch_embedding", Kind.CONV),
            new Name("condition_embedder.time_embedder.linear_1", "time_embedding.0", Kind.LINEAR),
            new Name("condition_embedder.time_embedder.linear_2", "time_embedding.2", Kind.LINEAR),
            new Name("condition_embedder.time_proj", "time_projection.1", Kind.LINEAR),
            new Name("condition_embedder.text_embedder.linear_1", "text_embedding.0", Kind.LINEAR),
            new Name("condition_embedder.text_embedder.linear_2", "text_embedding.2", Kind.LINEAR),
            new Name("condition_embedder.image_embedder.norm1", "img_emb.proj.0", Kind.NORM),
            new Name("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1", Kind.LINEAR),
            new Name("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3", Kind.LINEAR),
            new Name("condition_embedder.image_embedder.norm2", "img_emb.proj.4", Kind.NORM),
            new Name("condition_embedder.image_embedder.pos_embed", "img_emb.emb_pos", Kind.PARAMETER),
            new Name("proj_out", "head.head", Kind.LINEAR),
            new Name("scale_shift_table", "head.modulation", Kind.PARAMETER));

    private static final Pattern BLOCK_KEY = Pattern.compile("(blocks\\.\\d+\\.)(.+)");

    /**
     * The original Wan name of a diffusers key ({@code blocks.0.attn1.to_q.lora_A.weight} →
     * {@code blocks.0.self_attn.q.lora_A.weight}).
     *
     * @throws IllegalArgumentException when {@code key} is no diffusers Wan key, naming it
     */
    public static String toOriginal(String key) {
        return rename(key, true);
    }

    /**
     * The diffusers name of an original Wan key ({@code blocks.0.cross_attn.k_img.weight} →
     * {@code blocks.0.attn2.add_k_proj.weight}).
     *
     * @throws IllegalArgumentException when {@code key} is no original Wan key, naming it
     */
    public static String toDiffusers(String key) {
        return rename(key, false);
    }

    /** Whether {@code key} is a diffusers Wan key {@link #toOriginal} renames. */
    public static boolean isDiffusers(String key) {
        return find(key, true) != null;
    }

    /** Whether {@code key} is an original Wan key {@link #toDiffusers} renames. */
    public static boolean isOriginal(String key) {
        return find(key, false) != null;
    }

    /**
     * Whether {@code key} (in either naming) is a LoRA factor of a linear: it ends with
     * {@code .lora_A.weight}, {@code .lora_B.weight} or their {@code .default.} forms.
     */
    public static boolean isLoraFactor(String key) {
        Match m = find(key, true);
        if (m == null) {
            m = find(key, false);
        }
        return m != null && m.name.kind == Kind.LINEAR && m.suffix.contains(".lora_");
    }

    private record Match(String blockPrefix, Name name, String suffix) {}

    private static String rename(String key, boolean fromDiffusers) {
        Match m = find(key, fromDiffusers);
        if (m == null) {
            throw new IllegalArgumentException(unknown(key, fromDiffusers));
        }
        return m.blockPrefix + m.name.in(!fromDiffusers) + m.suffix;
    }

    private static Match find(String key, boolean diffusersNaming) {
        if (key == null) {
            return null;
        }
        Matcher block = BLOCK_KEY.matcher(key);
        if (block.matches()) {
            Match m = match(block.group(2), BLOCK, diffusersNaming, block.group(1));
            if (m != null) {
                return m;
            }
        }
        return match(key, TOP, diffusersNaming, "");
    }

    private static Match match(String body, List<Name> names, boolean diffusersNaming, String blockPrefix) {
        for (Name n : names) {
            String path = n.in(diffusersNaming);
            if (body.equals(path)) {
                return new Match(blockPrefix, n, "");
            }
            if (body.startsWith(path + ".") && n.kind.suffixes.contains(body.substring(path.length()))) {
                return new Match(blockPrefix, n, body.substring(path.length()));
            }
        }
        return null;
    }

    private static String unknown(String key, boolean diffusersNaming) {
        List<String> inBlock = new ArrayList<>();
        for (Name n : BLOCK) {
            inBlock.add(n.in(diffusersNaming));
        }
        List<String> top = new ArrayList<>();
        for (Name n : TOP) {
            top.add(n.in(diffusersNaming));
        }
        return "'" + key + "' is no " + (diffusersNaming ? "diffusers" : "original") + " Wan key: a key is blocks.N."
                + inBlock + " or one of " + top + ", followed by .weight / .bias (a linear also by .lora_A.weight, "
                + ".lora_B.weight or .lora_A/B.default.weight; a bare parameter by nothing)";
    }
}
