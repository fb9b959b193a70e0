package ai.omnispark.parallel.comm;

import java.nio.ByteBuffer;

/**
 * One direction of traffic with one peer during an op: a sequence of buffers moved whole and in
 * order. A flow may hold back its next buffer until another flow has progressed (the ring sends a
 * chunk only after it has been reduced), which is how chunks pipeline through the ring.
 */
abstract class Flow {
    final int peer;
    final int globalPeer;
    final boolean sending;
    ByteBuffer current;

    Flow(int peer, int globalPeer, boolean sending) {
        this.peer = peer;
        this.globalPeer = globalPeer;
        this.sending = sending;
    }

    /** The next buffer to move, or null if none is ready yet; called while none is current. */
    abstract ByteBuffer next();

    /** The current buffer has been moved completely. */
    abstract void moved();

    /** Every buffer has been moved. */
    abstract boolean finished();

    /** A flow over a fixed list of buffers; {@code check} runs after each one arrives. */
    static Flow of(int peer, int globalPeer, boolean sending, ByteBuffer[] buffers,
            java.util.function.IntConsumer check) {
        return new Flow(peer, globalPeer, sending) {
            private int i;

            @Override
            ByteBuffer next() {
                return i < buffers.length ? buffers[i] : null;
            }

            @Override
            void moved() {
                if (check != null) {
                    check.accept(i);
                }
                i++;
            }

            @Override
            boolean finished() {
                return i == buffers.length;
            }
        };
    }
}
