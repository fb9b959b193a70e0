package ai.omnispark.parallel.recompute;

import java.util.Locale;

/** What a training run recomputes in backward ({@code train.recompute}). */
public enum RecomputeMode {
    /** Keep every activation. */
    NONE,
    /** Drop every attention and MLP segment's activations (the family's blocks) and recompute them whole. */
    BLOCK,
    /** Recompute the steps of those segments that free the most bytes per microsecond, until a budget fits ({@link RoiSelection}). */
    ROI;

    /** {@code none}, {@code block} or {@code roi}, any case. */
    public static RecomputeMode parse(String text) {
        for (RecomputeMode m : values()) {
            if (m.name().equalsIgnoreCase(text.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("train.recompute must be none, block or roi, got '" + text + "'");
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
