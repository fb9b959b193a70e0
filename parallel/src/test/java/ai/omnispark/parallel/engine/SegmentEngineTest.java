package ai.omnispark.parallel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * loss = sum((x * a) * 3 * b) for x from the batch: the engine's gradients against the closed form,
 * with a hand-written segment (times 3) in the middle, with and without recompute.
 */
class SegmentEngineTest {
    private static Segment scale(String name, String unit, String param) {
        return new Segment() {
            public String name() {
                return name;
            }

            public List<String> units() {
                return List.of(unit);
            }

            public NDList forward(SegmentCall call, NDList inputs) {
                NDArray x = inputs.isEmpty() ? call.batch().get("x") : inputs.singletonOrThrow();
                return new NDList(x.mul(call.param(param)));
            }
        };
    }

    private static final ManualSegment TIMES_THREE = new ManualSegment() {
        public String name() {
            return "times3";
        }

        public List<String> units() {
            return List.of();
        }

        public NDList forward(SegmentCall call, NDList inputs) {
            return new NDList(inputs.singletonOrThrow().mul(3));
        }

        public NDList backward(SegmentCall call, NDList inputs, NDList gradOutputs) {
            return new NDList(gradOutputs.singletonOrThrow().mul(3));
        }
    };

    private static final Segment SUM = new Segment() {
        public String name() {
            return "sum";
        }

        public List<String> units() {
            return List.of();
        }

        public NDList forward(SegmentCall call, NDList inputs) {
            return new NDList(inputs.singletonOrThrow().sum());
        }
    };

    @Test
    void gradientsThroughAutogradAndManualSegments() {
        for (Recompute recompute : List.of(Recompute.none(), Recompute.all())) {
            try (RankContext rank = RankContext.single(1)) {
                rank.bindThread();
                List<UnitLayout> units = List.of(
                        new UnitLayout("ua", List.of(ParamSpec.of("a", Init.normal(1), 3))),
                        new UnitLayout("ub", List.of(ParamSpec.of("b", Init.normal(1), 3))));
                List<Segment> segments = List.of(scale("sa", "ua", "a"), TIMES_THREE, scale("sb", "ub", "b"), SUM);
                SegmentEngine engine = new SegmentEngine(segments, units, recompute);
                try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT64, 1);
                        NDManager scope = rank.manager().newSubManager()) {
                    double[] x = {1, 2, -1};
                    Batch batch = new Batch().put("x", scope.create(x));
                    double[] a = params.weights("ua").toDoubleArray();
                    double[] b = params.weights("ub").toDoubleArray();
                    NDList out = engine.forwardBackward(scope, batch, new NDList(), new NDList(scope.create(2.0)), params);
                    double expected = 0;
                    double[] ga = new double[3];
                    double[] gb = new double[3];
                    for (int i = 0; i < 3; i++) {
                        expected += x[i] * a[i] * 3 * b[i];
                        ga[i] = 2 * x[i] * 3 * b[i];
                        gb[i] = 2 * x[i] * a[i] * 3;
                    }
                    assertEquals(expected, out.singletonOrThrow().getDouble(), 1e-12);
                    assertArrayEquals(ga, params.grad("ua").toDoubleArray(), 1e-12);
                    assertArrayEquals(gb, params.grad("ub").toDoubleArray(), 1e-12);
                }
            }
        }
    }

    /** Records the engine's calls on a unit while delegating to real parameters. */
    private static final class Recording implements UnitParams {
        final LocalParams params;
        final List<String> events = new ArrayList<>();

        Recording(LocalParams params) {
            this.params = params;
        }

        public NDArray acquire(String unit, NDManager scope) {
            events.add("acquire " + unit);
            return params.acquire(unit, scope);
        }

        public void release(String unit) {
            events.add("release " + unit);
            params.release(unit);
        }

        public void accumulateGrad(String unit, NDArray grad) {
            events.add("grad " + unit);
            params.accumulateGrad(unit, grad);
        }
    }

    /** A segment that records its forward into {@code events}, then multiplies by {@code param}. */
    private static Segment recorded(String name, String unit, String param, List<String> events) {
        Segment inner = scale(name, unit, param);
        return new Segment() {
            public String name() {
                return name;
            }

            public List<String> units() {
                return List.of(unit);
            }

            public NDList forward(SegmentCall call, NDList inputs) {
                events.add("forward " + name);
                return inner.forward(call, inputs);
            }
        };
    }

    /**
     * A unit read by two consecutive segments (as a decoder block's attention and MLP segments read
     * one layer unit): acquired before the first, released after the last, its gradient (the sum of
     * both segments' contributions) handed over once, whichever of them recompute.
     */
    @Test
    void aUnitReadByTwoConsecutiveSegmentsIsAcquiredOnceAndItsGradientAccumulatedOnce() {
        List<Recompute> policies = List.of(Recompute.none(), Recompute.all(), Recompute.named(Set.of("first")),
                Recompute.named(Set.of("second")));
        for (Recompute recompute : policies) {
            try (RankContext rank = RankContext.single(1)) {
                rank.bindThread();
                List<UnitLayout> units = List.of(new UnitLayout("u",
                        List.of(ParamSpec.of("a", Init.normal(1), 3), ParamSpec.of("b", Init.normal(1), 3))));
                try (LocalParams local = new LocalParams(rank.manager(), units, DataType.FLOAT64, 1);
                        NDManager scope = rank.manager().newSubManager()) {
                    Recording params = new Recording(local);
                    List<Segment> segments = List.of(recorded("first", "u", "a", params.events),
                            recorded("second", "u", "b", params.events), SUM);
                    SegmentEngine engine = new SegmentEngine(segments, units, recompute);
                    double[] x = {1, 2, -1};
                    double[] w = local.weights("u").toDoubleArray();
                    engine.forwardBackward(scope, new Batch().put("x", scope.create(x)), new NDList(),
                            new NDList(scope.create(2.0)), params);
                    List<String> ev = params.events;
                    String policy = "events " + ev;
                    // Forward: one acquire before the first segment, the release only after the second.
                    assertEquals(List.of("acquire u", "forward first", "forward second"), ev.subList(0, 3), policy);
                    assertEquals(1, ev.stream().filter(e -> e.equals("grad u")).count(), policy);
                    assertEquals("grad u", ev.get(ev.size() - 2), policy);
                    assertEquals("release u", ev.get(ev.size() - 1), policy);
                    long acquires = ev.stream().filter(e -> e.equals("acquire u")).count();
                    assertEquals(acquires, ev.stream().filter(e -> e.equals("release u")).count(), policy);
                    // d/da sum(2 x a b) = 2 x b, d/db = 2 x a: both halves of the unit's one gradient.
                    double[] expected = new double[6];
                    for (int i = 0; i < 3; i++) {
                        expected[i] = 2 * x[i] * w[3 + i];
                        expected[3 + i] = 2 * x[i] * w[i];
                    }
                    assertArrayEquals(expected, local.grad("u").toDoubleArray(), 1e-12, policy);
                }
            }
        }
    }

    /**
     * Two segments reading parameter a of one unit see the same tensor while the unit stays acquired
     * (made per call, every call's fresh views cost C heap an ROI calibration did not see), a fresh
     * one after a release; b, which no segment reads, gets a zero gradient beside a's.
     */
    @Test
    void aUnitsParametersAreMadeOncePerAcquisitionAndAnUnreadOneGetsZeroGradient() {
        for (boolean recomputed : new boolean[] {false, true}) {
            Recompute recompute = recomputed ? Recompute.all() : Recompute.none();
            try (RankContext rank = RankContext.single(1)) {
                rank.bindThread();
                List<UnitLayout> units = List.of(new UnitLayout("u",
                        List.of(ParamSpec.of("a", Init.normal(1), 3), ParamSpec.of("b", Init.normal(1), 3))));
                List<NDArray> seen = new ArrayList<>();
                List<Segment> segments = new ArrayList<>();
                for (String name : List.of("first", "second")) {
                    Segment inner = scale(name, "u", "a");
                    segments.add(new Segment() {
                        public String name() {
                            return name;
                        }

                        public List<String> units() {
                            return List.of("u");
                        }

                        public NDList forward(SegmentCall call, NDList inputs) {
                            seen.add(call.param("a"));
                            return inner.forward(call, inputs);
                        }
                    });
                }
                segments.add(SUM);
                try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT64, 1);
                        NDManager scope = rank.manager().newSubManager()) {
                    double[] x = {1, 2, -1};
                    double[] a = java.util.Arrays.copyOf(params.weights("u").toDoubleArray(), 3);
                    new SegmentEngine(segments, units, recompute).forwardBackward(scope,
                            new Batch().put("x", scope.create(x)), new NDList(), new NDList(scope.create(2.0)), params);
                    assertEquals(recomputed ? 4 : 2, seen.size(), "forwards, then recomputes in backward");
                    assertTrue(seen.get(0) == seen.get(1), "one tensor for a in both forwards");
                    if (recomputed) {
                        // recomputed in backward after the forward released the unit: acquired again, once
                        assertTrue(seen.get(2) != seen.get(0) && seen.get(2) == seen.get(3), "recompute: one new tensor");
                    }
                    double[] expected = new double[6];
                    for (int i = 0; i < 3; i++) {
                        expected[i] = 2 * x[i] * 2 * a[i]; // d/da sum(2 x a a) = 4 x a
                    }
                    assertArrayEquals(expected, params.grad("u").toDoubleArray(), 1e-12);
                }
            }
        }
    }

    /** Hands out fixed weights, says which units are frozen, and records the gradient each unit was given. */
    private static final class RecordingParams implements UnitParams {
        final Map<String, NDArray> weights = new HashMap<>();
        final Set<String> frozen;
        final Map<String, double[]> given = new HashMap<>();
        final Set<String> calledFor = new java.util.HashSet<>();

        RecordingParams(Set<String> frozen) {
            this.frozen = frozen;
        }

        @Override
        public NDArray acquire(String unit, NDManager scope) {
            return weights.get(unit);
        }

        @Override
        public boolean trainable(String unit) {
            return !frozen.contains(unit);
        }

        @Override
        public void accumulateGrad(String unit, NDArray grad) {
            calledFor.add(unit);
            if (grad != null) {
                given.put(unit, grad.toDoubleArray());
            }
        }
    }

    /**
     * A frozen unit records no gradient and is handed none, while the gradient of the loss still
     * flows through it to the trainable unit before it; a frozen first unit (its segment's only
     * input is the batch, so its output has no graph at all) is skipped by backward without error.
     * Against the closed form of loss = sum((x * a) * 3 * b).
     */
    @Test
    void frozenUnitsGetNoGradientButPassItOn() {
        for (Recompute recompute : List.of(Recompute.none(), Recompute.all())) {
            for (String frozenUnit : List.of("ua", "ub")) {
                try (RankContext rank = RankContext.single(1)) {
                    rank.bindThread();
                    List<UnitLayout> units = List.of(
                            new UnitLayout("ua", List.of(ParamSpec.of("a", Init.normal(1), 3))),
                            new UnitLayout("ub", List.of(ParamSpec.of("b", Init.normal(1), 3))));
                    List<Segment> segments = List.of(scale("sa", "ua", "a"), TIMES_THREE, scale("sb", "ub", "b"), SUM);
                    SegmentEngine engine = new SegmentEngine(segments, units, recompute);
                    try (NDManager scope = rank.manager().newSubManager()) {
                        double[] x = {1, 2, -1};
                        double[] a = {0.5, -1.5, 2};
                        double[] b = {-0.25, 1, 3};
                        RecordingParams params = new RecordingParams(Set.of(frozenUnit));
                        params.weights.put("ua", scope.create(a));
                        params.weights.put("ub", scope.create(b));
                        Batch batch = new Batch().put("x", scope.create(x));
                        NDList out = engine.forwardBackward(scope, batch, new NDList(), new NDList(scope.create(2.0)),
                                params);
                        double expected = 0;
                        double[] ga = new double[3];
                        double[] gb = new double[3];
                        for (int i = 0; i < 3; i++) {
                            expected += x[i] * a[i] * 3 * b[i];
                            ga[i] = 2 * x[i] * 3 * b[i];
                            gb[i] = 2 * x[i] * a[i] * 3;
                        }
                        String what = frozenUnit + " frozen, " + recompute;
                        assertEquals(expected, out.singletonOrThrow().getDouble(), 1e-12, what);
                        assertTrue(params.calledFor.containsAll(List.of("ua", "ub")), what);
                        assertNull(params.given.get(frozenUnit), what + ": a frozen unit is handed no gradient");
                        if (frozenUnit.equals("ua")) {
                            assertArrayEquals(gb, params.given.get("ub"), 1e-12, what);
                        } else {
                            assertArrayEquals(ga, params.given.get("ua"), 1e-12, what);
                        }
                    }
                }
            }
        }
    }
}
