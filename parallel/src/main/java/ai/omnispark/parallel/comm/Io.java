package ai.omnispark.parallel.comm;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/** Whole-buffer reads and writes on a non-blocking channel with a deadline (rendezvous only). */
final class Io {
    private Io() {}

    static void readFully(SocketChannel ch, ByteBuffer buf, long deadlineNanos) throws IOException {
        move(ch, buf, deadlineNanos, false);
    }

    static void writeFully(SocketChannel ch, ByteBuffer buf, long deadlineNanos) throws IOException {
        move(ch, buf, deadlineNanos, true);
    }

    private static void move(SocketChannel ch, ByteBuffer buf, long deadlineNanos, boolean write)
            throws IOException {
        Selector selector = null;
        try {
            while (buf.hasRemaining()) {
                int n = write ? ch.write(buf) : ch.read(buf);
                if (n < 0) {
                    throw new IOException("connection closed by the other side");
                }
                if (n > 0 || !buf.hasRemaining()) {
                    continue;
                }
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    throw new SocketTimeoutException("no answer within the rendezvous timeout");
                }
                if (selector == null) {
                    selector = Selector.open();
                    ch.register(selector, write ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
                }
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
            }
        } finally {
            if (selector != null) {
                // Closing the selector deregisters the channel, so the links' selector can take it.
                selector.close();
            }
        }
    }
}
