package ai.omnispark.trainer.plan;

import ai.omnispark.models.api.Model;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Segment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.Map;

/**
 * Whether the model's family runs on a mesh, asked of the family itself: its {@code Parallelize}
 * lays out its segments on a mesh of size-only communicators ({@link SizeOnlyCommunicator}), so the
 * family's own rules (heads divisible by sp, experts by ep, no ep for a dense model, no sp for a
 * family that refuses it) give the reason, in the family's words. Answers are cached per (sp, ep):
 * the data-parallel sizes do not change a family's segments.
 */
public final class LayoutCheck {
    private final Model model;
    private final Map<String, String> reasons = new HashMap<>();
    private final Map<String, Set<String>> kept = new HashMap<>();

    public LayoutCheck(Model model) {
        this.model = model;
    }

    /**
     * The units whose gathered weights the graph keeps from forward to backward under {@code policy}:
     * those used by a segment of the family's plan that is not recomputed (the engine frees a unit's
     * leaf after forward only when every segment using it recomputes).
     */
    public Set<String> keptByGraph(int sp, int ep, RecomputePolicy policy) {
        return kept.computeIfAbsent(sp + "x" + ep + " " + policy.label(), k -> {
            try (DeviceMesh mesh = DeviceMesh.of(SizeOnlyCommunicator.of(sp * ep), 1, 1, sp, ep)) {
                Parallelize.Plan plan = model.parallelize().apply(model, mesh, policy.gradientCheckpointing());
                Set<String> units = new HashSet<>();
                for (int i = 0; i < plan.segments().size(); i++) {
                    Segment s = plan.segments().get(i);
                    if (!plan.recompute().recompute(i, s)) {
                        units.addAll(s.units());
                    }
                }
                return units;
            }
        });
    }

    /** Why the family refuses sp × ep, or null when it lays out its segments there. */
    public String refusal(int sp, int ep) {
        String reason = reasons.computeIfAbsent(sp + "x" + ep, k -> ask(sp, ep));
        return reason.isEmpty() ? null : reason;
    }

    private String ask(int sp, int ep) {
        // The family sees the dims a real mesh has; replicate and shard do not matter to it.
        try (DeviceMesh mesh = DeviceMesh.of(SizeOnlyCommunicator.of(sp * ep), 1, 1, sp, ep)) {
            model.parallelize().apply(model, mesh, false);
            return "";
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return e.getMessage() == null ? e.toString() : e.getMessage();
        }
    }
}
