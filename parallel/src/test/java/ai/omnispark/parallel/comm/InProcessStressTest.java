package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Ranks as threads of one JVM issue a long random (but identical on every rank) sequence of
 * asynchronous all-gathers, reduce-scatters and all-reduces on the world and on split
 * sub-communicators, with several works outstanding at once and every array closed right after
 * its work is awaited. Values are small integers, so every result is exact and compared
 * bit-for-bit with the answer computed here. Whole jobs repeat in one JVM, so a comm thread that
 * wrote into memory after its op had completed (memory the allocator has since handed to another
 * array) shows up as a wrong number in a later op or job, or as a crash.
 */
class InProcessStressTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int[] SIZES = {1, 3, 64, 1000, 4099, 65_536, 200_003};
    private static final int BIG = 9_000_001; // 36 MB of float32

    enum Kind { WORLD, PART, REVERSED }

    enum Op { ALL_GATHER, REDUCE_SCATTER, ALL_REDUCE }

    /** One step of the shared program. */
    record Step(int index, Kind kind, Op op, DataType dtype, int n) {}

    static List<Step> program(long seed, int count) {
        Random rnd = new Random(seed);
        List<Step> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int n = SIZES[rnd.nextInt(SIZES.length)];
            if (n > 10_000 && rnd.nextInt(3) != 0) {
                n = SIZES[rnd.nextInt(4)]; // mostly small, some large
            }
            out.add(new Step(i, Kind.values()[rnd.nextInt(3)], Op.values()[rnd.nextInt(3)],
                    rnd.nextInt(4) == 0 ? DataType.INT32 : DataType.FLOAT32, n));
        }
        return out;
    }

    /** Element i of the input of group rank r in step s: an integer in [-64, 64]. */
    static int value(int step, int r, long i) {
        return (int) Math.floorMod(step * 31L + r * 17L + i * 7L + (i >> 5), 129L) - 64;
    }

    /** The rank's communicators: the world, its half, and the world in reverse order. */
    static final class Comms {
        final Communicator world;
        final Communicator part;
        final Communicator reversed;

        Comms(Communicator world) {
            int w = world.size();
            int half = w / 2; // world 3: [0] and [1, 2]; world 4: [0, 1] and [2, 3]
            int r = world.rank();
            int[] part = r < half ? range(0, half) : range(half, w);
            int[] rev = new int[w];
            for (int i = 0; i < w; i++) {
                rev[i] = w - 1 - i;
            }
            this.world = world;
            this.part = world.split(part);
            this.reversed = world.split(rev);
        }

        Communicator of(Kind k) {
            return k == Kind.WORLD ? world : k == Kind.PART ? part : reversed;
        }

        static int[] range(int from, int to) {
            int[] a = new int[to - from];
            for (int i = 0; i < a.length; i++) {
                a[i] = from + i;
            }
            return a;
        }
    }

    /** An issued step: its work, its arrays and what the output must hold. */
    static final class Issued {
        final Step step;
        final Work work;
        final NDArray input;
        final NDArray output; // same as input for all-reduce
        final int groupRank;
        final int groupSize;

        Issued(Step step, Work work, NDArray input, NDArray output, int groupRank, int groupSize) {
            this.step = step;
            this.work = work;
            this.input = input;
            this.output = output;
            this.groupRank = groupRank;
            this.groupSize = groupSize;
        }

        void close() {
            input.close();
            if (output != input) {
                output.close();
            }
        }

        int expected(long i) {
            int s = step.index();
            switch (step.op()) {
                case ALL_GATHER:
                    return value(s, (int) (i / step.n()), i % step.n());
                case REDUCE_SCATTER: {
                    int sum = 0;
                    for (int r = 0; r < groupSize; r++) {
                        sum += value(s, r, (long) groupRank * step.n() + i);
                    }
                    return sum;
                }
                default: {
                    int sum = 0;
                    for (int r = 0; r < groupSize; r++) {
                        sum += value(s, r, i);
                    }
                    return sum;
                }
            }
        }

        /** Awaits and checks the result bit-exactly; closes the arrays either way. */
        void finish(String who) {
            try {
                work.await();
                if (step.dtype() == DataType.FLOAT32) {
                    float[] got = output.toFloatArray();
                    for (int i = 0; i < got.length; i++) {
                        int want = Float.floatToRawIntBits((float) expected(i));
                        if (Float.floatToRawIntBits(got[i]) != want) {
                            fail(who + " " + step + " group rank " + groupRank + "/" + groupSize
                                    + ": element " + i + " of " + got.length + " is " + got[i]
                                    + ", expected " + expected(i));
                        }
                    }
                } else {
                    int[] got = output.toIntArray();
                    for (int i = 0; i < got.length; i++) {
                        if (got[i] != expected(i)) {
                            fail(who + " " + step + " group rank " + groupRank + "/" + groupSize
                                    + ": element " + i + " of " + got.length + " is " + got[i]
                                    + ", expected " + expected(i));
                        }
                    }
                }
            } finally {
                close();
            }
        }
    }

    static NDArray filled(NDManager m, DataType dtype, int length, int step, int r, long offset) {
        if (dtype == DataType.FLOAT32) {
            float[] f = new float[length];
            for (int i = 0; i < length; i++) {
                f[i] = value(step, r, offset + i);
            }
            return m.create(f);
        }
        int[] a = new int[length];
        for (int i = 0; i < length; i++) {
            a[i] = value(step, r, offset + i);
        }
        return m.create(a);
    }

    static NDArray garbage(NDManager m, DataType dtype, int length) {
        if (dtype == DataType.FLOAT32) {
            float[] f = new float[length];
            Arrays.fill(f, Float.NaN);
            return m.create(f);
        }
        int[] a = new int[length];
        Arrays.fill(a, Integer.MIN_VALUE);
        return m.create(a);
    }

    static Issued issue(Comms comms, NDManager m, Step s) {
        Communicator c = comms.of(s.kind());
        int r = c.rank();
        int g = c.size();
        int n = s.n();
        switch (s.op()) {
            case ALL_GATHER: {
                NDArray in = filled(m, s.dtype(), n, s.index(), r, 0);
                NDArray out = garbage(m, s.dtype(), n * g);
                return new Issued(s, c.allGather(in, out), in, out, r, g);
            }
            case REDUCE_SCATTER: {
                NDArray in = filled(m, s.dtype(), n * g, s.index(), r, 0);
                NDArray out = garbage(m, s.dtype(), n);
                return new Issued(s, c.reduceScatter(in, out, ReduceOp.SUM), in, out, r, g);
            }
            default: {
                NDArray a = filled(m, s.dtype(), n, s.index(), r, 0);
                return new Issued(s, c.allReduce(a, ReduceOp.SUM), a, a, r, g);
            }
        }
    }

    /** Allocates, fills and frees arrays so that freed tensor memory is reused at once. */
    static void churn(NDManager m, Random rnd) {
        int n = SIZES[rnd.nextInt(SIZES.length)];
        try (NDManager tmp = m.newSubManager()) {
            NDArray a = garbage(tmp, DataType.FLOAT32, n);
            a.addi(1);
        }
    }

    /**
     * Runs the program on one rank with up to four works outstanding, checking each result.
     * Returns the outstanding works (for a caller that wants to finish them later).
     */
    static void runProgram(String who, Comms comms, NDManager m, List<Step> program, Random rnd,
            Deque<Issued> inFlight) {
        for (Step s : program) {
            inFlight.add(issue(comms, m, s));
            int window = 1 + rnd.nextInt(4);
            while (inFlight.size() >= window) {
                inFlight.poll().finish(who);
            }
            if (rnd.nextInt(4) == 0) {
                churn(m, rnd);
            }
        }
    }

    static void drainAll(String who, Deque<Issued> inFlight) {
        while (!inFlight.isEmpty()) {
            inFlight.poll().finish(who);
        }
    }

    /** A normal job: every rank runs the whole program and closes when its last work is done. */
    static void normalJob(int world, long seed, int steps) throws Exception {
        List<Step> program = program(seed, steps);
        try (Cluster c = Cluster.start(Transport.IN_PROCESS, world, TIMEOUT,
                CommConfig.DEFAULT_CHUNK_BYTES)) {
            c.run((rank, comm, m) -> {
                String who = "world " + world + " seed " + seed + " rank " + rank;
                Comms comms = new Comms(comm);
                Deque<Issued> inFlight = new ArrayDeque<>();
                try {
                    runProgram(who, comms, m, program, new Random(seed * 31 + rank), inFlight);
                    drainAll(who, inFlight);
                } finally {
                    for (Issued i : inFlight) {
                        try {
                            i.work.await();
                        } catch (RuntimeException ignored) {
                            // reported by the first failure
                        }
                        i.close();
                    }
                }
                comm.close();
                return null;
            });
        }
    }

    /**
     * Rank 0 closes its communicator as soon as its last work is done, while the others still
     * hold unfinished works of the program and the ranks of the other half go on with ops of
     * their own group: none of that may fail, and a later op that needs rank 0 fails at once.
     */
    static void earlyCloseJob(int world, long seed, int steps) throws Exception {
        List<Step> program = program(seed, steps);
        List<Step> tail = new ArrayList<>();
        for (Step s : program(seed + 1, steps / 2)) {
            tail.add(new Step(steps + s.index(), Kind.PART, s.op(), s.dtype(), s.n()));
        }
        int half = world / 2;
        try (Cluster c = Cluster.start(Transport.IN_PROCESS, world, TIMEOUT,
                CommConfig.DEFAULT_CHUNK_BYTES)) {
            c.run((rank, comm, m) -> {
                String who = "early close world " + world + " seed " + seed + " rank " + rank;
                Comms comms = new Comms(comm);
                Random rnd = new Random(seed * 31 + rank);
                Deque<Issued> inFlight = new ArrayDeque<>();
                try {
                    runProgram(who, comms, m, program, rnd, inFlight);
                    if (rank == 0) {
                        drainAll(who, inFlight);
                        comm.close();
                        return null;
                    }
                    Thread.sleep(rnd.nextInt(30)); // let rank 0 close first, works still pending
                    if (rank >= half) {
                        runProgram(who, comms, m, tail, rnd, inFlight);
                    }
                    drainAll(who, inFlight);
                } finally {
                    for (Issued i : inFlight) {
                        try {
                            i.work.await();
                        } catch (RuntimeException ignored) {
                            // reported by the first failure
                        }
                        i.close();
                    }
                }
                return null;
            });
            // an op that needs the closed rank fails at once, not after the timeout
            long t = System.nanoTime();
            CommException e = assertThrows(CommException.class, () -> c.comms[1].barrier().await());
            assertTrue(System.nanoTime() - t < TIMEOUT.toNanos() / 2, "took too long");
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
    }

    /**
     * The last rank closes its communicator abruptly in the middle of the program. Every other
     * rank must fail, and once a work has returned (normally or not) and its arrays are freed,
     * nothing may write into that memory any more: fresh arrays allocated in its place must
     * keep their contents.
     */
    static void abortJob(int world, long seed, int steps) throws Exception {
        int victim = world - 1;
        Random plan = new Random(seed);
        int killAt = steps / 3 + plan.nextInt(steps / 3);
        int killDelay = plan.nextInt(80);
        // around the kill, all-reduces too big for the allocator to keep (always unmapped when
        // freed), so that a peer still reading freed memory faults instead of reading garbage
        List<Step> program = new ArrayList<>(program(seed, steps));
        for (int i = killAt - 2; i <= killAt + 2; i++) {
            program.set(i, new Step(i, Kind.WORLD, Op.ALL_REDUCE, DataType.FLOAT32, BIG));
        }
        try (Cluster c = Cluster.start(Transport.IN_PROCESS, world, TIMEOUT,
                CommConfig.DEFAULT_CHUNK_BYTES)) {
            List<Boolean> failed = c.run((rank, comm, m) -> {
                String who = "abort world " + world + " seed " + seed + " rank " + rank;
                Comms comms = new Comms(comm);
                Random rnd = new Random(seed * 31 + rank);
                Deque<Issued> inFlight = new ArrayDeque<>();
                boolean sawFailure = false;
                try {
                    for (Step s : program) {
                        inFlight.add(issue(comms, m, s));
                        if (rank == victim && s.index() == killAt - 2) {
                            // closed from another thread at a random moment of the big ops
                            Thread killer = new Thread(() -> {
                                try {
                                    Thread.sleep(killDelay);
                                } catch (InterruptedException e) {
                                    return;
                                }
                                comm.close();
                            });
                            killer.setDaemon(true);
                            killer.start();
                        }
                        int window = 1 + rnd.nextInt(4);
                        while (inFlight.size() >= window) {
                            inFlight.poll().finish(who);
                        }
                    }
                    drainAll(who, inFlight);
                } catch (CommException e) {
                    sawFailure = true;
                } finally {
                    List<Integer> sizes = new ArrayList<>();
                    for (Issued i : inFlight) {
                        try {
                            i.work.await();
                        } catch (CommException ignored) {
                            sawFailure = true;
                        }
                        sizes.add((int) i.output.size());
                        i.close();
                    }
                    // the freed memory goes to new arrays right away; nothing may scribble on it
                    try (NDManager tmp = m.newSubManager()) {
                        List<NDArray> fresh = new ArrayList<>();
                        for (int n : sizes) {
                            fresh.add(garbage(tmp, DataType.INT32, n));
                        }
                        Thread.sleep(20);
                        for (NDArray a : fresh) {
                            for (int v : a.toIntArray()) {
                                assertEquals(Integer.MIN_VALUE, v, who + ": freed memory written");
                            }
                        }
                    }
                }
                return sawFailure;
            });
            for (int r = 0; r < world; r++) {
                assertTrue(failed.get(r), "rank " + r + " saw no failure");
            }
        }
    }

    @Test
    void randomCollectivesOnWorldAndSplitsAreExactJobAfterJob() throws Exception {
        for (int job = 0; job < 3; job++) {
            normalJob(3, 100 + job, 150);
            normalJob(4, 200 + job, 150);
        }
    }

    @Test
    void aRankClosingAfterItsLastOpDisturbsNobody() throws Exception {
        for (int job = 0; job < 3; job++) {
            earlyCloseJob(4, 300 + job, 100);
            earlyCloseJob(3, 400 + job, 100);
        }
    }

    @Test
    void anAbortedJobLeavesNothingWritingAndTheNextJobIsExact() throws Exception {
        for (int job = 0; job < 2; job++) {
            abortJob(4, 500 + job, 120);
            normalJob(4, 600 + job, 60);
            abortJob(3, 700 + job, 120);
            normalJob(3, 800 + job, 60);
        }
    }

    /**
     * A broadcast's root only waits at the final barrier while the others copy its buffer. If
     * the group breaks during those copies, the root's work must not complete (letting its
     * caller free the buffer) before the peers have stopped reading it.
     */
    @Test
    void aFailedOpCompletesOnlyAfterThePeersStoppedReadingItsBuffer() throws Exception {
        int n = 32 << 20; // 128 MB: the copies take long enough to break the group during them
        for (int attempt = 0; attempt < 3; attempt++) {
            try (Cluster c = Cluster.start(Transport.IN_PROCESS, 3, TIMEOUT,
                    CommConfig.DEFAULT_CHUNK_BYTES)) {
                NDArray[] a = new NDArray[3];
                for (int r = 0; r < 3; r++) {
                    a[r] = r == 0 ? c.managers[r].ones(new Shape(n)) : c.managers[r].zeros(new Shape(n));
                }
                java.nio.ByteBuffer copy1 = Buffers.view(a[1], "rank 1 array");
                Work[] w = new Work[3];
                for (int r = 0; r < 3; r++) {
                    w[r] = c.comms[r].broadcast(a[r], 0);
                }
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (copy1.getFloat(0) != 1f && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                Thread killer = new Thread(c.comms[2]::close); // abrupt: rank 2 is copying too
                killer.start();
                boolean rootFailed = false;
                try {
                    w[0].await();
                } catch (CommException e) {
                    rootFailed = true;
                }
                float last = copy1.getFloat((n - 1) * 4);
                killer.join();
                for (int r = 1; r < 3; r++) {
                    try {
                        w[r].await();
                    } catch (CommException expected) {
                        // the op was broken
                    }
                }
                assertEquals(1f, last, "the root's broadcast " + (rootFailed ? "failed" : "finished")
                        + " while rank 1 was still copying its buffer");
                for (NDArray x : a) {
                    x.close();
                }
            }
        }
    }
}
