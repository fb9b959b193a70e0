package ai.omnispark.parallel.comm;

import java.nio.ByteBuffer;

/**
 * One pass of a ring collective, pipelined in chunks. There are {@code size - 1} steps; in step s
 * this rank sends a segment to its right neighbour and receives one from its left. Each segment
 * is cut into the same number of chunks, and chunk c of step s+1 (which forwards what step s
 * received) may leave as soon as chunk c of step s has arrived and been combined, so sending,
 * receiving and reducing overlap.
 */
abstract class Ring {
    final int size;
    final int position;
    final int elementBytes;
    final long chunkElems;
    final int chunksPerStep;
    private final long[] segOff;
    private final long[] segLen;
    private int received;
    private final java.util.concurrent.atomic.AtomicInteger completed =
            new java.util.concurrent.atomic.AtomicInteger();
    /** The completion the send flow is blocked on, or -1; lets completions skip needless wakeups. */
    private volatile int awaited = -1;
    private int total;

    /** Segments are given in elements: offsets and lengths of {@code size} segments. */
    Ring(int size, int position, int elementBytes, int chunkBytes, long[] segOff, long[] segLen) {
        this.size = size;
        this.position = position;
        this.elementBytes = elementBytes;
        this.chunkElems = Math.max(1, chunkBytes / elementBytes);
        this.segOff = segOff;
        this.segLen = segLen;
        long max = 0;
        for (long l : segLen) {
            max = Math.max(max, l);
        }
        this.chunksPerStep = (int) Math.max(1, (max + chunkElems - 1) / chunkElems);
    }

    /** Near-equal split of {@code count} elements, the first {@code count % size} one longer. */
    static long[][] evenSegments(long count, int size) {
        long[] off = new long[size];
        long[] len = new long[size];
        long base = count / size;
        long rem = count % size;
        for (int i = 0; i < size; i++) {
            off[i] = i * base + Math.min(i, rem);
            len[i] = base + (i < rem ? 1 : 0);
        }
        return new long[][] {off, len};
    }

    int mod(int x) {
        return Math.floorMod(x, size);
    }

    /** The segment this rank sends in step s. */
    abstract int sendSegment(int step);

    /** The segment this rank receives in step s. */
    abstract int recvSegment(int step);

    /** Where the chunk sent in step s comes from. */
    abstract ByteBuffer sendFrom(int step, int segment, long byteOff, long byteLen);

    /** Where the chunk received in step s lands. */
    abstract ByteBuffer recvInto(int step, int segment, long byteOff, long byteLen);

    /**
     * A received chunk is complete; combine it if this pass reduces. Must call {@link #complete}
     * once the chunk may be forwarded, now or later from another thread.
     */
    void arrived(int step, int segment, long byteOff, long byteLen) {
        complete();
    }

    /**
     * The oldest arrived chunk not yet completed is ready to forward. Returns whether the pump may
     * be waiting for exactly this (so a completion from another thread must wake it).
     */
    final boolean complete() {
        int c = completed.incrementAndGet();
        int a = awaited;
        return c == total || (a >= 0 && c > a);
    }

    private long[] chunk(int segment, int c) {
        long start = Math.min(segLen[segment], c * chunkElems);
        long end = Math.min(segLen[segment], start + chunkElems);
        return new long[] {(segOff[segment] + start) * elementBytes, (end - start) * elementBytes};
    }

    /** The flows of this pass between this rank and its neighbours. */
    Flow[] flows(int leftPeer, int leftGlobal, int rightPeer, int rightGlobal) {
        total = (size - 1) * chunksPerStep;
        Flow send = new Flow(rightPeer, rightGlobal, true) {
            private int k;

            @Override
            ByteBuffer next() {
                if (k >= total) {
                    return null;
                }
                int need = k - chunksPerStep;
                if (k >= chunksPerStep && completed.get() <= need) {
                    awaited = need;
                    // re-check after publishing, so a completion in between cannot be missed
                    if (completed.get() <= need) {
                        return null;
                    }
                }
                int step = k / chunksPerStep;
                int seg = sendSegment(step);
                long[] ch = chunk(seg, k % chunksPerStep);
                return sendFrom(step, seg, ch[0], ch[1]);
            }

            @Override
            void moved() {
                k++;
            }

            @Override
            boolean finished() {
                return k == total;
            }
        };
        Flow recv = new Flow(leftPeer, leftGlobal, false) {
            @Override
            ByteBuffer next() {
                if (received >= total) {
                    return null;
                }
                int step = received / chunksPerStep;
                int seg = recvSegment(step);
                long[] ch = chunk(seg, received % chunksPerStep);
                return recvInto(step, seg, ch[0], ch[1]);
            }

            @Override
            void moved() {
                int step = received / chunksPerStep;
                int seg = recvSegment(step);
                long[] ch = chunk(seg, received % chunksPerStep);
                arrived(step, seg, ch[0], ch[1]);
                received++;
            }

            @Override
            boolean finished() {
                return received == total;
            }
        };
        // Holds the pass open until every arrived chunk has been combined.
        Flow completion = new Flow(leftPeer, leftGlobal, false) {
            @Override
            ByteBuffer next() {
                return null;
            }

            @Override
            void moved() {}

            @Override
            boolean finished() {
                return completed.get() == total;
            }
        };
        return new Flow[] {send, recv, completion};
    }
}
