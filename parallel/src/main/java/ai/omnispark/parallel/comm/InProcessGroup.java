package ai.omnispark.parallel.comm;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the threads of an in-process group share: a slot per rank where each posts the buffers of
 * the current op, a barrier, per-pair mailboxes for send/recv, and the groups split from it.
 *
 * <p>A group breaks when a member fails, is closed with ops in flight, or times out; breaking wakes
 * every waiter and every subgroup, so the other ranks fail at once instead of waiting for their
 * own timeouts. A member that closes its communicator after its last op merely <em>departs</em>:
 * ops it had already joined are unaffected, ops of other ranks that need it fail, and groups it
 * is not in never notice.
 *
 * <p>Memory safety. Peers read and write each other's tensor memory directly, so a rank must not
 * finish an op, successfully or not, while a peer may still touch its buffers: its caller would
 * free them under the peer's copy (a SIGSEGV, or silent corruption of whatever reuses the
 * memory). Every op therefore ends with a barrier that all ranks pass only after their copies,
 * and each rank is marked {@linkplain #inside inside} from the moment a barrier of its op
 * releases it until it reaches the next barrier or leaves the op; a rank that leaves an op by a
 * failure first breaks the group (so no peer starts another copy phase) and then
 * {@linkplain #drain drains}: waits until no rank is inside. Copy phases never block, so the wait
 * is short.
 */
final class InProcessGroup {
    private final int size;
    private final long timeoutNanos;
    private final AtomicReferenceArray<Object> slots;
    private final long[] posted;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition advanced = lock.newCondition();
    private final Condition quiet = lock.newCondition();
    private final long[] arrivedAt;
    /** Guarded by lock: ranks released by a barrier of the current op and not yet past it. */
    private final boolean[] inside;
    /** Ranks whose communicator was closed after its last op (1), set before waking waiters. */
    private final AtomicIntegerArray departed;
    private final List<BlockingQueue<Parcel>> mail;
    private final Map<String, InProcessGroup> subgroups = new HashMap<>();
    private final List<Child> children = new ArrayList<>();
    private long generation;
    private int arrived;
    private volatile String brokenReason;
    private volatile int brokenBy = -1;

    InProcessGroup(int size, Duration timeout) {
        this.size = size;
        this.timeoutNanos = timeout.toNanos();
        this.slots = new AtomicReferenceArray<>(size);
        this.posted = new long[size];
        this.arrivedAt = new long[size];
        Arrays.fill(arrivedAt, -1);
        this.inside = new boolean[size];
        this.departed = new AtomicIntegerArray(size);
        this.mail = new ArrayList<>(size * size);
        for (int i = 0; i < size * size; i++) {
            mail.add(new LinkedBlockingQueue<>());
        }
    }

    int size() {
        return size;
    }

    long timeoutNanos() {
        return timeoutNanos;
    }

    /** Publishes this rank's op arguments; the next {@link #await} makes them visible to all. */
    void post(int rank, Object payload) {
        slots.set(rank, payload);
    }

    /**
     * The sequence number in this group of the op this rank is starting (called by the rank's
     * comm thread only); all ranks must agree on it, which catches reading a stale post.
     */
    long nextOp(int rank) {
        return posted[rank]++;
    }

    Object slot(int rank) {
        return slots.get(rank);
    }

    /** Waits until every rank of the group has arrived, or fails naming a rank that did not. */
    void await(String op, int rank) {
        lock.lock();
        try {
            if (inside[rank]) {
                inside[rank] = false;
                quiet.signalAll();
            }
            checkBroken(op, rank);
            long gen = generation;
            arrivedAt[rank] = gen;
            if (++arrived == size) {
                arrived = 0;
                generation++;
                Arrays.fill(inside, true);
                advanced.signalAll();
                return;
            }
            long deadline = System.nanoTime() + timeoutNanos;
            while (generation == gen) {
                checkBroken(op, rank);
                int gone = departedMissing(gen);
                if (gone >= 0) {
                    String why = "rank " + gone + " closed its communicator before joining";
                    breakGroup(rank, why);
                    throw new CommException(op, rank, gone, why);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    int missing = firstMissing(gen);
                    String why = "timed out after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos)
                            + " ms waiting for rank " + missing;
                    breakGroup(rank, why);
                    throw new CommException(op, rank, missing, why);
                }
                advanced.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommException(op, rank, -1, "interrupted", e);
        } finally {
            lock.unlock();
        }
    }

    private int firstMissing(long gen) {
        for (int r = 0; r < size; r++) {
            if (arrivedAt[r] != gen) {
                return r;
            }
        }
        return -1;
    }

    private int departedMissing(long gen) {
        for (int r = 0; r < size; r++) {
            if (departed.get(r) != 0 && arrivedAt[r] != gen) {
                return r;
            }
        }
        return -1;
    }

    /**
     * This rank is done with its op: it touches no peer's buffers any more, and peers will not
     * look at its slot again until it posts the next op.
     */
    void leave(int rank) {
        lock.lock();
        try {
            if (inside[rank]) {
                inside[rank] = false;
                quiet.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * After a failure (the group is broken, so nobody starts another copy phase): waits until no
     * rank is still copying from or into a peer's buffers of the failed op, so that this rank's
     * buffers can be freed. Not interruptible, since returning early would let the caller free
     * memory under a peer's copy; copy phases never block, so this wait is short.
     */
    void drain() {
        boolean interrupted = false;
        lock.lock();
        try {
            while (anyInside()) {
                try {
                    quiet.await(1, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            lock.unlock();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private boolean anyInside() {
        for (boolean b : inside) {
            if (b) {
                return true;
            }
        }
        return false;
    }

    void checkBroken(String op, int rank) {
        String reason = brokenReason;
        if (reason != null) {
            throw new CommException(op, rank, brokenBy, "group broken: " + reason);
        }
    }

    boolean isBroken() {
        return brokenReason != null;
    }

    /** Fails every current and later op of this group and its subgroups. */
    void breakGroup(int byRank, String reason) {
        List<Child> kids;
        lock.lock();
        try {
            if (brokenReason == null) {
                brokenBy = byRank;
                brokenReason = "rank " + byRank + ": " + reason;
            }
            advanced.signalAll();
        } finally {
            lock.unlock();
        }
        synchronized (subgroups) {
            kids = new ArrayList<>(children);
        }
        for (Child c : kids) {
            c.group.breakGroup(-1, "parent group broken: " + brokenReason);
        }
    }

    /**
     * The member {@code rank} closed its communicator with nothing in flight: ops it joined stay
     * valid, later ops that need it (here and in every subgroup it belongs to) fail at once.
     */
    void depart(int rank) {
        List<Child> kids;
        departed.set(rank, 1);
        lock.lock();
        try {
            advanced.signalAll();
        } finally {
            lock.unlock();
        }
        synchronized (subgroups) {
            kids = new ArrayList<>(children);
        }
        for (Child c : kids) {
            for (int i = 0; i < c.ranks.length; i++) {
                if (c.ranks[i] == rank) {
                    c.group.depart(i);
                }
            }
        }
    }

    private boolean departed(int rank) {
        return departed.get(rank) != 0;
    }

    /** The one group over these parent ranks; every member of it asks with the same array. */
    InProcessGroup subgroup(int[] ranks) {
        synchronized (subgroups) {
            return subgroups.computeIfAbsent(Arrays.toString(ranks), k -> {
                InProcessGroup g = new InProcessGroup(ranks.length, Duration.ofNanos(timeoutNanos));
                children.add(new Child(ranks.clone(), g));
                for (int i = 0; i < ranks.length; i++) {
                    if (departed(ranks[i])) {
                        g.depart(i);
                    }
                }
                String reason = brokenReason;
                if (reason != null) {
                    g.breakGroup(-1, "parent group broken: " + reason);
                }
                return g;
            });
        }
    }

    /**
     * Hands {@code buf} to {@code to} and waits until it has been copied out. Never returns while
     * the receiver may still be reading {@code buf}: on failure the parcel is withdrawn, or, if the
     * receiver has already claimed it, its copy is waited for.
     */
    void send(String op, int from, int to, ByteBuffer buf, DataType dtype) {
        checkBroken(op, from);
        Parcel p = new Parcel(buf, dtype);
        mail.get(from * size + to).add(p);
        long deadline = System.nanoTime() + timeoutNanos;
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (p.done.await(50, TimeUnit.MILLISECONDS)) {
                        break;
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                CommException failure = null;
                String reason = brokenReason;
                if (reason != null) {
                    failure = new CommException(op, from, brokenBy, "group broken: " + reason);
                } else if (interrupted) {
                    failure = new CommException(op, from, to, "interrupted");
                } else if (departed(to)) {
                    failure = new CommException(op, from, to,
                            "rank " + to + " closed its communicator before receiving");
                } else if (System.nanoTime() > deadline) {
                    String why = "rank " + to + " did not receive within the timeout";
                    breakGroup(from, why);
                    failure = new CommException(op, from, to, why);
                }
                if (failure != null) {
                    if (p.withdraw()) {
                        throw failure;
                    }
                    // the receiver is copying out of buf right now: wait for it to finish
                    while (true) {
                        try {
                            p.done.await();
                            break;
                        } catch (InterruptedException e) {
                            interrupted = true;
                        }
                    }
                    break;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (p.error != null) {
            throw new CommException(op, from, to, p.error);
        }
    }

    /** Copies the next parcel from {@code from} into {@code buf}. */
    void recv(String op, int to, int from, ByteBuffer buf, DataType dtype) {
        checkBroken(op, to);
        BlockingQueue<Parcel> q = mail.get(from * size + to);
        long deadline = System.nanoTime() + timeoutNanos;
        try {
            while (true) {
                Parcel p = q.poll(50, TimeUnit.MILLISECONDS);
                if (p != null) {
                    if (!p.claim()) {
                        continue; // withdrawn by a sender that failed
                    }
                    try {
                        if (p.dtype != dtype || p.buf.remaining() != buf.remaining()) {
                            p.error = "rank " + to + " expected " + buf.remaining() + " bytes of "
                                    + dtype + ", rank " + from + " sent " + p.buf.remaining()
                                    + " bytes of " + p.dtype;
                            throw new CommException(op, to, from, p.error);
                        }
                        Buffers.copy(p.buf, buf);
                    } finally {
                        p.done.countDown();
                    }
                    return;
                }
                checkBroken(op, to);
                if (departed(from) && q.isEmpty()) {
                    throw new CommException(op, to, from,
                            "rank " + from + " closed its communicator before sending");
                }
                if (System.nanoTime() > deadline) {
                    String why = "rank " + from + " sent nothing within the timeout";
                    breakGroup(to, why);
                    throw new CommException(op, to, from, why);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommException(op, to, from, "interrupted", e);
        }
    }

    private static final class Child {
        final int[] ranks;
        final InProcessGroup group;

        Child(int[] ranks, InProcessGroup group) {
            this.ranks = ranks;
            this.group = group;
        }
    }

    private static final class Parcel {
        private static final int POSTED = 0;
        private static final int CLAIMED = 1;
        private static final int WITHDRAWN = 2;

        final ByteBuffer buf;
        final DataType dtype;
        final CountDownLatch done = new CountDownLatch(1);
        final AtomicInteger state = new AtomicInteger(POSTED);
        volatile String error;

        Parcel(ByteBuffer buf, DataType dtype) {
            this.buf = buf;
            this.dtype = dtype;
        }

        /** The receiver takes the parcel; false if the sender withdrew it. */
        boolean claim() {
            return state.compareAndSet(POSTED, CLAIMED);
        }

        /** The sender takes the parcel back; false if the receiver has claimed it. */
        boolean withdraw() {
            return state.compareAndSet(POSTED, WITHDRAWN);
        }
    }
}
