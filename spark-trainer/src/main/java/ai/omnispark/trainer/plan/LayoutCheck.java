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
    private final Map<String, Set<String>> used = new HashMap<>();

    public LayoutCheck(Model model) {
        this.model = model;
    }

    /**
     * The units the family's segments use on sp × ep: under FSDP each is gathered whole, and this
     * engine's graph keeps the gathered copies until backward. Measured, even under block recompute:
     * the medium LLM at 4 sharded ranks kept 135 MB per rank against 48 MB on one rank, the difference
     * about its 96.5 MB of whole fp32 weights; so the policy does not change the set.
     */
    public Set<String> usedUnits(int sp, int ep) {
        return used.computeIfAbsent(sp + "x" + ep, k -> {
            try (DeviceMesh mesh = DeviceMesh.of(SizeOnlyCommunicator.of(sp * ep), 1, 1, sp, ep)) {
                Parallelize.Plan plan = model.parallelize().apply(model, mesh, false);
                Set<String> units = new HashSet<>();
                for (Segment s : plan.segments()) {
                    units.addAll(s.units());
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
