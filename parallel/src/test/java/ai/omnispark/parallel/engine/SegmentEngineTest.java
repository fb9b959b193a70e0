package ai.omnispark.parallel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.util.List;
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

    /**
     * A frozen unit between two segments: its weights get no gradient, and the gradient still flows
     * through it to the trainable unit before it (ga = seed * x * 3 * b).
     */
    @Test
    void frozenUnitPassesGradientsButTakesNone() {
        for (Recompute recompute : List.of(Recompute.none(), Recompute.all())) {
            try (RankContext rank = RankContext.single(1)) {
                rank.bindThread();
                ParamSpec frozen = new ParamSpec("b", new ai.djl.ndarray.types.Shape(3), Init.normal(1), false, false);
                List<UnitLayout> units = List.of(
                        new UnitLayout("ua", List.of(ParamSpec.of("a", Init.normal(1), 3))),
                        new UnitLayout("ub", List.of(frozen)));
                List<Segment> segments = List.of(scale("sa", "ua", "a"), TIMES_THREE, scale("sb", "ub", "b"), SUM);
                SegmentEngine engine = new SegmentEngine(segments, units, recompute);
                List<String> gradUnits = new java.util.ArrayList<>();
                try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT64, 1);
                        NDManager scope = rank.manager().newSubManager()) {
                    UnitParams recording = new UnitParams() {
                        public NDArray acquire(String unit, NDManager s) {
                            return params.acquire(unit, s);
                        }

                        public void accumulateGrad(String unit, NDArray grad) {
                            if (grad != null) {
                                gradUnits.add(unit);
                            }
                            params.accumulateGrad(unit, grad);
                        }
                    };
                    double[] x = {1, 2, -1};
                    Batch batch = new Batch().put("x", scope.create(x));
                    double[] b = params.weights("ub").toDoubleArray();
                    engine.forwardBackward(scope, batch, new NDList(), new NDList(scope.create(2.0)), recording);
                    double[] ga = new double[3];
                    for (int i = 0; i < 3; i++) {
                        ga[i] = 2 * x[i] * 3 * b[i];
                    }
                    assertArrayEquals(ga, params.grad("ua").toDoubleArray(), 1e-12);
                    assertEquals(List.of("ua"), gradUnits, "only the trainable unit hands over a gradient");
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
}
