package ai.omnispark.parallel.comm;

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
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What the threads of an in-process group share: a slot per rank where each posts the buffers of
 * the current op, a barrier, per-pair mailboxes for send/recv, and the groups split from it.
 *
 * <p>A group breaks when a member fails, closes or times out; breaking wakes every waiter and
 * every subgroup, so the other ranks fail at once instead of waiting for their own timeouts.
 */
final class InProcessGroup {
    private final int size;
    private final long timeoutNanos;
    private final Object[] slots;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition advanced = lock.newCondition();
    private final long[] arrivedAt;
    private final List<BlockingQueue<Parcel>> mail;
    private final Map<String, InProcessGroup> subgroups = new HashMap<>();
    private final List<InProcessGroup> children = new ArrayList<>();
    private long generation;
    private int arrived;
    private volatile String brokenReason;
    private volatile int brokenBy = -1;

    InProcessGroup(int size, Duration timeout) {
        this.size = size;
        this.timeoutNanos = timeout.toNanos();
        this.slots = new Object[size];
        this.arrivedAt = new long[size];
        Arrays.fill(arrivedAt, -1);
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
        slots[rank] = payload;
    }

    Object slot(int rank) {
        return slots[rank];
    }

    /** Waits until every rank of the group has arrived, or fails naming a rank that did not. */
    void await(String op, int rank) {
        lock.lock();
        try {
            checkBroken(op, rank);
            long gen = generation;
            arrivedAt[rank] = gen;
            if (++arrived == size) {
                arrived = 0;
                generation++;
                advanced.signalAll();
                return;
            }
            long deadline = System.nanoTime() + timeoutNanos;
            while (generation == gen) {
                checkBroken(op, rank);
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

    void checkBroken(String op, int rank) {
        String reason = brokenReason;
        if (reason != null) {
            throw new CommException(op, rank, brokenBy, "group broken: " + reason);
        }
    }

    /** Fails every current and later op of this group and its subgroups. */
    void breakGroup(int byRank, String reason) {
        List<InProcessGroup> kids;
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
        for (InProcessGroup g : kids) {
            g.breakGroup(-1, "parent group broken: " + brokenReason);
        }
    }

    /** The one group over these parent ranks; every member of it asks with the same array. */
    InProcessGroup subgroup(int[] ranks) {
        synchronized (subgroups) {
            return subgroups.computeIfAbsent(Arrays.toString(ranks), k -> {
                InProcessGroup g = new InProcessGroup(ranks.length, java.time.Duration.ofNanos(timeoutNanos));
                children.add(g);
                if (brokenReason != null) {
                    g.breakGroup(-1, "parent group broken: " + brokenReason);
                }
                return g;
            });
        }
    }

    /** Hands {@code buf} to {@code to} and waits until it has been copied out. */
    void send(String op, int from, int to, ByteBuffer buf, ai.djl.ndarray.types.DataType dtype) {
        Parcel p = new Parcel(buf, dtype);
        mail.get(from * size + to).add(p);
        long deadline = System.nanoTime() + timeoutNanos;
        try {
            while (!p.done.await(50, TimeUnit.MILLISECONDS)) {
                checkBroken(op, from);
                if (System.nanoTime() > deadline) {
                    String why = "rank " + to + " did not receive within the timeout";
                    breakGroup(from, why);
                    throw new CommException(op, from, to, why);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommException(op, from, to, "interrupted", e);
        }
        if (p.error != null) {
            throw new CommException(op, from, to, p.error);
        }
    }

    /** Copies the next parcel from {@code from} into {@code buf}. */
    void recv(String op, int to, int from, ByteBuffer buf, ai.djl.ndarray.types.DataType dtype) {
        BlockingQueue<Parcel> q = mail.get(from * size + to);
        long deadline = System.nanoTime() + timeoutNanos;
        try {
            while (true) {
                Parcel p = q.poll(50, TimeUnit.MILLISECONDS);
                if (p != null) {
                    if (p.dtype != dtype || p.buf.remaining() != buf.remaining()) {
                        p.error = "rank " + to + " expected " + buf.remaining() + " bytes of "
                                + dtype + ", rank " + from + " sent " + p.buf.remaining()
                                + " bytes of " + p.dtype;
                        p.done.countDown();
                        throw new CommException(op, to, from, p.error);
                    }
                    Buffers.copy(p.buf, buf);
                    p.done.countDown();
                    return;
                }
                checkBroken(op, to);
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

    private static final class Parcel {
        final ByteBuffer buf;
        final ai.djl.ndarray.types.DataType dtype;
        final CountDownLatch done = new CountDownLatch(1);
        volatile String error;

        Parcel(ByteBuffer buf, ai.djl.ndarray.types.DataType dtype) {
            this.buf = buf;
            this.dtype = dtype;
        }
    }
}
