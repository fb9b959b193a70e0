package ai.omnispark.parallel.comm;

import java.nio.ByteBuffer;

/**
 * One pass of a ring collective, pipelined in chunks. There are {@code size - 1} steps; in step s
 * this rank sends a segment to its right neighbour and receives one from its left. Each segment
 * is cut into the same number of chunks, and chunk c of step s+1 (which forwards what step s
 * received) may leave as soon as chunk c of step s has arrived and been combined, so sending,
 * receiving and reducing overlap. Everything runs on the comm thread that pumps the flows.
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
    private int completed;
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
     * A received chunk is complete; combine it if this pass reduces, then call {@link #complete}
     * once the chunk may be forwarded.
     */
    void arrived(int step, int segment, long byteOff, long byteLen) {
        complete();
    }

    /** The oldest arrived chunk not yet completed is ready to forward. */
    final void complete() {
        completed++;
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
                if (k >= chunksPerStep && completed <= k - chunksPerStep) {
                    return null; // forwards a chunk that has not arrived yet
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
        return new Flow[] {send, recv};
    }
}
