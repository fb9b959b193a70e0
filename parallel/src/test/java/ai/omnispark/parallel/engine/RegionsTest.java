package ai.omnispark.parallel.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.NativeHeap;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A stepped segment run as regions: every choice of recomputed steps gives the gradients of
 * running it whole without recompute (float64, so any difference is a wrong graph, not rounding),
 * and the calibration's kept bytes match what the steps save, derived by hand.
 */
class RegionsTest {
    /** One step of {@code r + tanh(r W1) * sigmoid(tanh(r W1)) W2}, carrying the residual r first. */
    private record Step(String name, int kind) implements Segment {
        public List<String> units() {
            return List.of("u");
        }

        public NDList forward(SegmentCall call, NDList in) {
            NDArray r = in.get(0);
            return switch (kind) {
                case 0 -> new NDList(r, r.matMul(call.param("w1")).tanh());
                case 1 -> new NDList(r, in.get(1).mul(in.get(1).getNDArrayInternal().sigmoid()));
                default -> new NDList(r.add(in.get(1).matMul(call.param("w2"))));
            };
        }
    }

    private record Block(String name, List<Segment> steps) implements SteppedSegment {
        public List<String> units() {
            return List.of("u");
        }
    }

    private static final Segment LOSS = new Segment() {
        public String name() {
            return "loss";
        }

        public List<String> units() {
            return List.of();
        }

        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray x = inputs.singletonOrThrow();
            return new NDList(x.mul(x).sum());
        }
    };

    private static List<Segment> model() {
        return List.of(new Block("b0", List.of(new Step("b0.in", 0), new Step("b0.act", 1), new Step("b0.out", 2))),
                new Block("b1", List.of(new Step("b1.in", 0), new Step("b1.act", 1), new Step("b1.out", 2))), LOSS);
    }

    private static final List<UnitLayout> UNITS = List.of(new UnitLayout("u",
            List.of(ParamSpec.of("w1", Init.normal(0.5), 4, 6), ParamSpec.of("w2", Init.normal(0.5), 6, 4))));

    /** Gradient of u and of the input under {@code segments} and {@code recompute}. */
    private static double[][] gradients(List<Segment> segments, Recompute recompute) {
        try (RankContext rank = RankContext.single(7)) {
            rank.bindThread();
            SegmentEngine engine = new SegmentEngine(segments, UNITS, recompute);
            try (LocalParams params = new LocalParams(rank.manager(), UNITS, DataType.FLOAT64, 1);
                    NDManager scope = rank.manager().newSubManager()) {
                double[] values = new double[12];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (i - 5) / 6.0;
                }
                // a libtorch-owned copy: autograd may save the input, and create() aliases the Java array
                NDArray x = scope.create(values, new Shape(3, 4)).duplicate();
                NDList out = engine.forwardBackward(scope, new Batch(), new NDList(x), new NDList(scope.create(1.0)),
                        params);
                return new double[][] {params.grad("u").toDoubleArray(), {out.singletonOrThrow().getDouble()}};
            }
        }
    }

    @Test
    void everyChoiceOfRecomputedStepsGivesTheGradientsOfNone() {
        double[][] none = gradients(model(), Recompute.none());
        double[][] block = gradients(model(), Recompute.all());
        assertArrayEquals(none[0], block[0], 1e-12);
        List<String> steps = List.of("b0.in", "b0.act", "b0.out", "b1.in", "b1.act", "b1.out");
        for (int mask = 1; mask < 1 << steps.size(); mask++) {
            Set<String> chosen = new HashSet<>();
            for (int j = 0; j < steps.size(); j++) {
                if ((mask >> j & 1) == 1) {
                    chosen.add(steps.get(j));
                }
            }
            Regions regions = Regions.of(model(), chosen, Recompute.none());
            double[][] roi = gradients(regions.segments(), regions.recompute());
            assertEquals(none[1][0], roi[1][0], 1e-12, "loss with " + chosen);
            assertArrayEquals(none[0], roi[0], 1e-12, "gradient with " + chosen);
        }
    }

    @Test
    void consecutiveRecomputedStepsRunAsOneRegion() {
        Regions regions = Regions.of(model(), Set.of("b0.in", "b0.act", "b1.out"), Recompute.none());
        assertEquals(List.of("b0.in..b0.act", "b0.out", "b1.in", "b1.act", "b1.out", "loss"),
                regions.segments().stream().map(Segment::name).toList());
        assertThrows(IllegalArgumentException.class, () -> Regions.of(model(), Set.of("b9.in"), Recompute.none()));
    }

    /** exp of the carried tensor: exp saves its result, which is also the step's output. */
    private record Exp(String name) implements Segment {
        public List<String> units() {
            return List.of();
        }

        public NDList forward(SegmentCall call, NDList in) {
            return new NDList(in.singletonOrThrow().exp());
        }
    }

    private record Chain(String name, List<Segment> steps) implements SteppedSegment {
        public List<String> units() {
            return List.of();
        }
    }

    @Test
    void calibrationMeasuresWhatEachChoiceKeeps() {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        long mib = 1 << 20;
        long tensor = 16 * mib;
        long[] kept = calibrateChain(tensor, 1, null)[0];
        // nothing recomputed: e0 (saved by exp, and the boundary) and e1
        assertEquals(2 * tensor, kept[0], 6 * mib, "kept " + kept[0] / mib + " MiB");
        // either step alone recomputed: its output is still a boundary, the other step saves its own
        assertEquals(2 * tensor, kept[1], 6 * mib, "kept " + kept[1] / mib + " MiB");
        assertEquals(2 * tensor, kept[2], 6 * mib, "kept " + kept[2] / mib + " MiB");
        // both as one region: e0 is freed, only the output e1 stays
        assertEquals(tensor, kept[3], 6 * mib, "kept " + kept[3] / mib + " MiB");
    }

    /**
     * Another thread allocating and freeing C-heap memory all the while (as a data loader, the JIT
     * compiler or another rank thread does) does not reach the figures: they are read around the free.
     */
    @Test
    void calibrationIgnoresAnotherThreadsAllocations() throws Exception {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        long mib = 1 << 20;
        long tensor = 4 * mib;
        AtomicBoolean stop = new AtomicBoolean();
        Thread noise = new Thread(() -> {
            try (NDManager own = NDManager.newBaseManager()) {
                while (!stop.get()) {
                    NDArray junk = own.zeros(new Shape(3 * mib / 4));
                    LockSupport.parkNanos(5_000_000);
                    junk.close();
                    LockSupport.parkNanos(5_000_000);
                }
            }
        }, "heap-noise");
        try {
            long[][] runs = calibrateChain(tensor, 3, noise);
            long[] expected = {2 * tensor, 2 * tensor, 2 * tensor, tensor};
            for (int run = 0; run < runs.length; run++) {
                for (int mask = 0; mask < expected.length; mask++) {
                    assertEquals(expected[mask], runs[run][mask], mib / 4,
                            "run " + run + ", choice " + mask + ": kept " + runs[run][mask] + " bytes");
                }
            }
        } finally {
            stop.set(true);
            noise.join(10_000);
        }
    }

    /**
     * The kept bytes of every choice for a chain of two exp steps over {@code tensor} bytes, {@code runs}
     * calibrations after a warm-up, {@code noise} (or null) started after the warm-up.
     */
    private static long[][] calibrateChain(long tensor, int runs, Thread noise) {
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            List<Segment> chain = List.of(new Chain("c", List.of(new Exp("c.e0"), new Exp("c.e1"))));
            SegmentEngine engine = new SegmentEngine(chain, List.of(), Recompute.none());
            try (LocalParams params = new LocalParams(rank.manager(), List.of(), DataType.FLOAT32, 1);
                    NDManager scope = rank.manager().newSubManager()) {
                NDArray x = scope.full(new Shape(tensor / 4), -1f);
                new StepCalibration(1).measure(engine, scope, new Batch(), new NDList(x), params); // warm-up
                if (noise != null) {
                    noise.start();
                }
                long[][] kept = new long[runs][];
                for (int run = 0; run < runs; run++) {
                    List<SegmentCost> costs = new StepCalibration(3).measure(engine, scope, new Batch(),
                            new NDList(x), params);
                    assertEquals(1, costs.size());
                    assertTrue(costs.get(0).stepMicros()[0] > 0 && costs.get(0).forwardMicros() > 0);
                    kept[run] = costs.get(0).keptBytes();
                }
                return kept;
            }
        }
    }

    /** {@code sin(x) * w}: sin's output is saved only for the weight's gradient. */
    private record ScaledSin(String name) implements Segment {
        public List<String> units() {
            return List.of("scale");
        }

        public NDList forward(SegmentCall call, NDList in) {
            return new NDList(in.singletonOrThrow().sin().mul(call.param("w")));
        }
    }

    /** {@code bias + x} with the batch array first: DJL puts the result in the batch array's manager. */
    private record BatchBias(String name) implements Segment {
        public List<String> units() {
            return List.of();
        }

        public NDList forward(SegmentCall call, NDList in) {
            return new NDList(call.batch().get("bias").add(in.singletonOrThrow()));
        }
    }

    private record Scaled(String name, List<Segment> steps) implements SteppedSegment {
        public List<String> units() {
            return List.of("scale");
        }
    }

    /**
     * The calibration predicts what the engine keeps, where a step saves a tensor only for a weight's
     * gradient (it must see the weights as the engine does, requiring grad) and where a step's result
     * lands in a batch array's manager (it must count it, as the engine keeps it).
     */
    @Test
    void calibrationPredictsWhatTheEngineKeeps() {
        Assumptions.assumeTrue(NativeHeap.available(), "no glibc mallinfo2 here");
        long mib = 1 << 20;
        long n = 16 * mib / 4;
        List<UnitLayout> units = List.of(new UnitLayout("scale", List.of(ParamSpec.of("w", Init.normal(0.5), n))));
        List<Segment> model = List.of(new Scaled("s", List.of(new ScaledSin("s.sin"), new BatchBias("s.bias"))));
        try (RankContext rank = RankContext.single(3)) {
            rank.bindThread();
            try (LocalParams params = new LocalParams(rank.manager(), units, DataType.FLOAT32, 1);
                    NDManager scope = rank.manager().newSubManager()) {
                NDArray x = scope.full(new Shape(n), 0.5f);
                Batch batch = new Batch().put("bias", scope.full(new Shape(n), 1f));
                SegmentEngine probe = new SegmentEngine(model, units, Recompute.none());
                new StepCalibration(1).measure(probe, scope, batch, new NDList(x), params); // warm-up
                long[] predicted = new StepCalibration(3).measure(probe, scope, batch, new NDList(x), params).get(0)
                        .keptBytes();
                // by hand: sin's output (saved for w's gradient), the product, the sum: 3 tensors kept
                assertEquals(3 * 16 * mib, predicted[0], mib, "predicted " + predicted[0]);
                for (int mask = 0; mask < 4; mask++) {
                    Set<String> chosen = new HashSet<>();
                    if ((mask & 1) == 1) {
                        chosen.add("s.sin");
                    }
                    if ((mask & 2) == 2) {
                        chosen.add("s.bias");
                    }
                    Regions regions = Regions.of(model, chosen, Recompute.none());
                    SegmentEngine engine = new SegmentEngine(regions.segments(), units, regions.recompute());
                    engine.trackActivations(true);
                    long[] kept = new long[3];
                    for (int run = 0; run < kept.length; run++) {
                        try (NDManager step = scope.newSubManager()) {
                            NDArray seed = step.ones(new Shape(n));
                            engine.forwardBackward(step, batch, new NDList(x), new NDList(seed), params);
                        }
                        kept[run] = engine.keptBytes();
                    }
                    Arrays.sort(kept);
                    // the median of 3, within 4 MiB: the engine's reading spans its whole forward, while
                    // the JIT compiler's threads malloc and free their arenas (MBs); a tensor missed is 16 MiB
                    assertEquals(predicted[mask], kept[1], 4 * mib,
                            "recomputed " + chosen + ": predicted " + predicted[mask] + ", the engine kept "
                                    + Arrays.toString(kept));
                }
            }
        }
    }
}
