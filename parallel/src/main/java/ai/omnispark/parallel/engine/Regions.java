package ai.omnispark.parallel.engine;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The segments the engine runs for a choice of recomputed steps: each {@link SteppedSegment} is
 * cut into regions, a kept step alone (recorded in forward) and each run of consecutive recomputed
 * steps merged into one recomputed region (so the tensors between them are not kept). Other
 * segments pass through, recomputed where {@code base} says.
 */
public final class Regions {
    private final List<Segment> segments;
    private final Set<String> recomputed;

    private Regions(List<Segment> segments, Set<String> recomputed) {
        this.segments = segments;
        this.recomputed = recomputed;
    }

    /**
     * @param recomputedSteps names of the steps to recompute
     * @param base the policy for segments that are not stepped, asked with their index in {@code plan}
     */
    public static Regions of(List<Segment> plan, Set<String> recomputedSteps, Recompute base) {
        List<Segment> out = new ArrayList<>();
        Set<String> regions = new HashSet<>();
        Set<String> unknown = new HashSet<>(recomputedSteps);
        for (int i = 0; i < plan.size(); i++) {
            Segment s = plan.get(i);
            if (!(s instanceof SteppedSegment stepped)) {
                out.add(s);
                if (base.recompute(i, s)) {
                    regions.add(s.name());
                }
                continue;
            }
            List<Segment> run = new ArrayList<>();
            for (Segment step : stepped.steps()) {
                unknown.remove(step.name());
                if (recomputedSteps.contains(step.name())) {
                    run.add(step);
                    continue;
                }
                flush(stepped, run, out, regions);
                out.add(step);
            }
            flush(stepped, run, out, regions);
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("no segment has the recompute steps " + unknown);
        }
        return new Regions(List.copyOf(out), Set.copyOf(regions));
    }

    private static void flush(SteppedSegment owner, List<Segment> run, List<Segment> out, Set<String> regions) {
        if (run.isEmpty()) {
            return;
        }
        String name = run.size() == 1 ? run.get(0).name() : run.get(0).name() + ".." + run.get(run.size() - 1).name();
        out.add(new Region(name, owner.units(), run));
        regions.add(name);
        run.clear();
    }

    /** The segments to hand the engine. */
    public List<Segment> segments() {
        return segments;
    }

    /** The policy to hand the engine with {@link #segments}: the recomputed regions. */
    public Recompute recompute() {
        Set<String> names = recomputed;
        return (i, s) -> names.contains(s.name()) && !(s instanceof ManualSegment);
    }
}
