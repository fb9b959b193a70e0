package ai.omnispark.trainer.spark;

import ai.omnispark.trainer.job.MetricsLog;
import ai.omnispark.trainer.loop.StepListener;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Rank 0's end of the progress channel: steps and log lines to the driver, as JSON lines. */
final class ProgressSender implements StepListener, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Socket socket;
    private final Writer out;

    ProgressSender(String host, int port, byte[] token) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress(host, port), 30_000);
        out = new java.io.OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
        out.write(java.util.HexFormat.of().formatHex(token) + "\n");
        out.flush();
    }

    @Override
    public synchronized void onStep(StepResult result, long totalSteps) {
        ObjectNode o = MetricsLog.toJson(result);
        o.put("total", totalSteps);
        send(o);
    }

    synchronized void log(String line) {
        send(JSON.createObjectNode().put("log", line));
    }

    private void send(ObjectNode o) {
        try {
            out.write(JSON.writeValueAsString(o));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("the driver's progress channel is gone", e);
        }
    }

    /** A console for rank 0 whose lines go to the driver. */
    PrintStream console() {
        return new PrintStream(new OutputStream() {
            private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    log(line.toString(StandardCharsets.UTF_8));
                    line.reset();
                } else {
                    line.write(b);
                }
            }
        }, true, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
