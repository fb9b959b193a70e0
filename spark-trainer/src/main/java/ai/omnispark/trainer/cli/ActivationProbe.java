package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDList;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.runtime.NativeHeap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Measures the activation memory of ranks that are threads of this JVM: the bytes a micro-batch's
 * forward leaves live for its backward (what autograd saved, the kept segment outputs, and the
 * gathered weights the graph holds), read from the process's C heap ({@link NativeHeap}, where
 * libtorch allocates) just before the first segment's forward and just after the last one's.
 *
 * <p>The C heap is the whole process's, so the ranks meet at a barrier at both points (every rank
 * runs the same segments of the same micro-batch) and one reading is taken while all of them
 * wait: the difference is what all ranks together keep, and divided by the ranks it is the
 * per-rank figure (exact for ranks that do the same work, the mean otherwise). A segment
 * recomputed in backward (its forward runs again on the same micro-batch) is not measured again.
 *
 * <p>The first and last segments that are not {@link ManualSegment}s are wrapped; a plan's leading
 * or trailing manual segments (communication only) fall outside the window.
 */
final class ActivationProbe {
    private final int ranks;
    private final Duration timeout;
    private final CyclicBarrier barrier;
    /** Touched only by the barrier's action, which runs while every rank waits. */
    private long startBytes;
    private boolean atStart = true;
    private final List<Long> keptBytes = new ArrayList<>();

    /** @param timeout how long a rank waits for the others at a probe before failing */
    ActivationProbe(int ranks, Duration timeout) {
        if (!NativeHeap.available()) {
            throw new IllegalStateException("activation memory is read from glibc's mallinfo2, which this system "
                    + "lacks (glibc 2.33 or later on Linux is needed)");
        }
        this.ranks = ranks;
        this.timeout = timeout;
        this.barrier = new CyclicBarrier(ranks, this::read);
    }

    private synchronized void read() {
        long now = NativeHeap.liveBytes();
        if (atStart) {
            startBytes = now;
        } else {
            keptBytes.add(now - startBytes);
        }
        atStart = !atStart;
    }

    /** Releases the ranks waiting at a probe with a failure, when one rank gives up (so none waits out the timeout). */
    void abort() {
        barrier.reset();
    }

    /** Forgets the readings so far (the warm-up's). */
    synchronized void reset() {
        keptBytes.clear();
    }

    /** Per micro-batch measured, the bytes each rank kept from forward to backward (all ranks' / ranks). */
    synchronized long[] perRankBytes() {
        return keptBytes.stream().mapToLong(b -> b / ranks).toArray();
    }

    /** {@code plan} with its first and last non-manual segments marking the window; one rank's plan. */
    Parallelize.Plan wrap(Parallelize.Plan plan) {
        List<Segment> segments = new ArrayList<>(plan.segments());
        int first = -1;
        int last = -1;
        for (int i = 0; i < segments.size(); i++) {
            if (!(segments.get(i) instanceof ManualSegment)) {
                first = first < 0 ? i : first;
                last = i;
            }
        }
        if (first < 0) {
            throw new IllegalArgumentException("the plan has no segment that runs autograd to measure");
        }
        segments.set(first, new Marked(segments.get(first), true, first == last));
        if (last != first) {
            segments.set(last, new Marked(segments.get(last), false, true));
        }
        return new Parallelize.Plan(segments, plan.recompute(), plan.batches());
    }

    private void await() {
        try {
            barrier.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the other ranks at the activation probe", e);
        } catch (TimeoutException | BrokenBarrierException e) {
            throw new IllegalStateException("the ranks did not all reach the activation probe within "
                    + timeout.toSeconds() + " s (a rank failed or ran different segments)", e);
        }
    }

    /** A segment whose forward reads the heap before and/or after, once per micro-batch. */
    private final class Marked implements Segment {
        private final Segment segment;
        private final boolean start;
        private final boolean end;
        /** The micro-batches already measured here: a recompute of the same one is not. */
        private Batch startedOn;
        private Batch endedOn;

        Marked(Segment segment, boolean start, boolean end) {
            this.segment = segment;
            this.start = start;
            this.end = end;
        }

        @Override
        public String name() {
            return segment.name();
        }

        @Override
        public List<String> units() {
            return segment.units();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            if (start && call.batch() != startedOn) {
                startedOn = call.batch();
                await();
            }
            NDList out = segment.forward(call, inputs);
            if (end && call.batch() != endedOn) {
                endedOn = call.batch();
                await();
            }
            return out;
        }
    }
}
