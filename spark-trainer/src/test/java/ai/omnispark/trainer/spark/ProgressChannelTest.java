package ai.omnispark.trainer.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.trainer.loop.StepResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The driver's progress server against hostile or broken clients, and rank 0's sender against a
 * driver that goes away: nothing a client sends before authenticating is kept beyond a few hundred
 * bytes or a few seconds, one client cannot hold up another, lines of an older attempt are
 * dropped, and the sender never throws to the training thread.
 */
class ProgressChannelTest {
    private static final long MB = 1 << 20;

    private static byte[] token() {
        byte[] t = new byte[32];
        new SecureRandom().nextBytes(t);
        return t;
    }

    private static StepResult step(long n) {
        return new StepResult(n, 1.0 / n, 1e-3, 0.5, 100, 10, 1);
    }

    /** Waits up to {@code ms} for {@code steps} to hold {@code n} entries. */
    private static boolean await(List<Long> steps, int n, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + ms * 1_000_000;
        while (steps.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return steps.size() >= n;
    }

    @Test
    void aClientSending100MbWithoutANewlineIsCutOffAfterAFewHundredBytes() throws Exception {
        List<Long> heard = new CopyOnWriteArrayList<>();
        byte[] token = token();
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (ProgressServer server = new ProgressServer("127.0.0.1", (r, total) -> heard.add(r.step()),
                new PrintStream(console, true, StandardCharsets.UTF_8))) {
            server.beginAttempt(0, token);
            long sent = 0;
            IOException refused = null;
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
                OutputStream out = s.getOutputStream();
                byte[] chunk = new byte[(int) MB];
                java.util.Arrays.fill(chunk, (byte) 'x');
                while (sent < 100 * MB) {
                    out.write(chunk);
                    sent += chunk.length;
                }
            } catch (IOException e) {
                refused = e;
            }
            // The socket buffers on both sides hold a few MB; the server itself reads 256 bytes.
            assertTrue(refused != null, "the server swallowed all " + sent / MB + " MB without a newline");
            assertTrue(sent < 32 * MB, "the server read " + sent / MB + " MB before closing");
            assertEquals(1, server.refused());
            // rank 0 is still heard
            ProgressSender sender = new ProgressSender("127.0.0.1", server.port(), 0, token);
            sender.onStep(step(1), 1);
            sender.close();
            assertTrue(await(heard, 1, 5000), "rank 0 was not heard after the flood");
            assertEquals(0, sender.dropped());
        }
    }

    @Test
    void aSilentClientHoldsUpNobodyAndIsClosedAfterTheHelloTimeout() throws Exception {
        List<Long> heard = new CopyOnWriteArrayList<>();
        byte[] token = token();
        try (ProgressServer server = new ProgressServer("127.0.0.1", (r, total) -> heard.add(r.step()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
                Socket silent = new Socket()) {
            server.beginAttempt(0, token);
            silent.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            long connected = System.nanoTime();
            Thread.sleep(200); // the server has accepted it and waits for its hello
            ProgressSender sender = new ProgressSender("127.0.0.1", server.port(), 0, token);
            for (long n = 1; n <= 3; n++) {
                sender.onStep(step(n), 3);
            }
            // Heard while the silent client still holds its connection, well before its timeout.
            assertTrue(await(heard, 3, 3000), "rank 0 was held up by a silent client: heard " + heard);
            sender.close();
            silent.setSoTimeout(ProgressServer.HELLO_TIMEOUT_MS + 5000);
            InputStream in = silent.getInputStream();
            int first;
            try {
                first = in.read();
            } catch (IOException reset) {
                first = -1;
            }
            long heldMs = (System.nanoTime() - connected) / 1_000_000;
            assertEquals(-1, first, "the silent client got data");
            assertTrue(heldMs < ProgressServer.HELLO_TIMEOUT_MS + 3000, "closed only after " + heldMs + " ms");
            assertEquals(List.of(1L, 2L, 3L), heard);
        }
    }

    @Test
    void aClientTricklingItsHelloIsClosedAfterTheHelloTimeoutInAll() throws Exception {
        try (ProgressServer server = new ProgressServer("127.0.0.1", (r, total) -> {},
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
                Socket slow = new Socket()) {
            server.beginAttempt(0, token());
            slow.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            long start = System.nanoTime();
            long closedAfterMs = -1;
            OutputStream out = slow.getOutputStream();
            for (int i = 0; i < 100 && closedAfterMs < 0; i++) { // one byte every 300 ms: 30 s if let be
                try {
                    out.write('0');
                    out.flush();
                    Thread.sleep(300);
                } catch (IOException closed) {
                    closedAfterMs = (System.nanoTime() - start) / 1_000_000;
                }
            }
            assertTrue(closedAfterMs > 0, "a client trickling its hello was never closed");
            assertTrue(closedAfterMs < ProgressServer.HELLO_TIMEOUT_MS + 3000, "closed after " + closedAfterMs + " ms");
            assertEquals(1, server.refused());
        }
    }

    @Test
    void linesOfAnOlderAttemptAreDroppedAndItsStragglersRefused() throws Exception {
        List<Long> heard = new CopyOnWriteArrayList<>();
        byte[] first = token();
        byte[] second = token();
        try (ProgressServer server = new ProgressServer("127.0.0.1", (r, total) -> heard.add(r.step()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))) {
            server.beginAttempt(0, first);
            ProgressSender old = new ProgressSender("127.0.0.1", server.port(), 0, first);
            old.onStep(step(1), 10);
            assertTrue(await(heard, 1, 5000));
            server.beginAttempt(1, second);
            old.onStep(step(2), 10); // still connected, but of the failed attempt
            ProgressSender late = new ProgressSender("127.0.0.1", server.port(), 0, first);
            late.onStep(step(3), 10); // a straggler connecting after the relaunch
            ProgressSender current = new ProgressSender("127.0.0.1", server.port(), 1, second);
            current.onStep(step(4), 10);
            current.close();
            old.close();
            late.close();
            assertTrue(await(heard, 2, 5000));
            Thread.sleep(200);
            assertEquals(List.of(1L, 4L), heard);
            assertEquals(1, server.staleLines());
            assertEquals(1, server.refused());
        }
    }

    @Test
    void aSenderWhoseDriverIsGoneDropsAndCountsInsteadOfThrowing() throws Exception {
        byte[] token = token();
        List<Long> heard = new CopyOnWriteArrayList<>();
        ProgressServer server = new ProgressServer("127.0.0.1", (r, total) -> heard.add(r.step()),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        server.beginAttempt(0, token);
        ProgressSender sender = new ProgressSender("127.0.0.1", server.port(), 0, token);
        sender.onStep(step(1), 100);
        assertTrue(await(heard, 1, 5000));
        server.close(); // the driver's side goes away mid-run
        long start = System.nanoTime();
        for (long n = 2; n <= 100; n++) {
            sender.onStep(step(n), 100); // must neither throw nor block
            sender.console().println("log line " + n);
            Thread.sleep(2);
        }
        assertTrue((System.nanoTime() - start) / 1_000_000 < 5000, "offering blocked the training thread");
        sender.close();
        assertTrue(sender.lost() != null, "the sender did not notice the channel broke");
        assertTrue(sender.dropped() > 0 && sender.dropped() <= 2 * 99, "dropped " + sender.dropped());
        assertEquals(List.of(1L), heard);
    }
}
