package ai.omnispark.parallel.engine;

import java.util.Set;

/** Which segments drop their activations in forward and recompute them in backward. */
@FunctionalInterface
public interface Recompute {
    boolean recompute(int index, Segment segment);

    static Recompute none() {
        return (i, s) -> false;
    }

    static Recompute all() {
        return (i, s) -> !(s instanceof ManualSegment);
    }

    /** Recompute the segments whose name is listed. */
    static Recompute named(Set<String> names) {
        return (i, s) -> names.contains(s.name()) && !(s instanceof ManualSegment);
    }
}
