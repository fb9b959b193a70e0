package ai.omnispark.models.vlm;

/** HF parameter names and unit names of the vision tower and merger; they are also our parameter names. */
final class VisionNames {
    private VisionNames() {}

    /** What every vision tower and merger name starts with. */
    static final String PREFIX = "visual.";
    static final String PATCH_EMBED = "visual.patch_embed.proj.weight";
    static final String PATCH_EMBED_UNIT = "visual.patch_embed";
    static final String MERGER_UNIT = "visual.merger";

    /** The unit of ViT block {@code i}. */
    static String blockUnit(int i) {
        return "visual.blocks." + i;
    }

    /** {@code visual.blocks.i.<suffix>}. */
    static String block(int i, String suffix) {
        return "visual.blocks." + i + "." + suffix;
    }

    /** {@code visual.merger.<suffix>}. */
    static String merger(String suffix) {
        return "visual.merger." + suffix;
    }
}
