package ai.omnispark.parallel.profile;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * libtorch's op trace of one thread, through DJL's {@code JniUtils.startProfile} /
 * {@code stopProfile} (libtorch's legacy profiler, which is thread-local). libtorch writes its
 * events to a file, with times in microseconds since its own start mark; they are shifted onto the
 * profiler's clock here (both are the monotonic clock; the mark is taken inside the start call, so
 * the shift is off by at most that call's duration, a few microseconds).
 */
final class TorchOps {
    /** libtorch numbers its threads 1, 2, ...; their tracks get ids far from Java thread ids. */
    static final long TID_BASE = 1_000_000_000L;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private final Path file;
    /** {@code System.nanoTime()} of libtorch's start mark (the middle of the start call). */
    private final long markNs;
    private final Set<Long> threads = new TreeSet<>();

    private TorchOps(Path file, long markNs) {
        this.file = file;
        this.markNs = markNs;
    }

    /** Starts tracing the calling thread's ops. */
    static TorchOps start() {
        Path file;
        try {
            file = Files.createTempFile("omnispark-torch-ops-", ".json");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a file for libtorch's op trace", e);
        }
        long before = System.nanoTime();
        try {
            JniUtils.startProfile(false, true, false);
        } catch (RuntimeException e) {
            // libtorch refuses a second recording on one thread: name the cause, leave no file behind
            try {
                Files.deleteIfExists(file);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IllegalStateException("cannot start libtorch's op trace on thread "
                    + Thread.currentThread().getName() + ": " + e.getMessage(), e);
        }
        long after = System.nanoTime();
        return new TorchOps(file, before + (after - before) / 2);
    }

    /** Stops tracing and returns the ops as events on the profiler's clock. */
    List<TraceEvent> stop(long originNano) throws IOException {
        try {
            JniUtils.stopProfile(file.toString());
            return read(originNano);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Stops tracing and drops what was recorded. */
    void abandon() {
        try {
            JniUtils.stopProfile(file.toString());
        } catch (RuntimeException ignored) {
            // the thread is being torn down after a failure: the trace is not wanted
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temp file left behind
            }
        }
    }

    /** Track ids of the libtorch threads seen. */
    Set<Long> threads() {
        return threads;
    }

    private List<TraceEvent> read(long originNano) throws IOException {
        List<TraceEvent> out = new ArrayList<>();
        long shift = markNs - originNano;
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new IOException("libtorch's op trace " + file + " is not a JSON array");
            }
            while (p.nextToken() == JsonToken.START_OBJECT) {
                JsonNode e = JSON.readTree(p);
                if (!"X".equals(e.path("ph").asText())) {
                    continue;
                }
                long tid = TID_BASE + e.path("tid").asLong();
                threads.add(tid);
                JsonNode shape = e.path("shape");
                boolean hasShape = shape.isArray() && shape.size() > 0;
                out.add(new TraceEvent(e.path("name").asText(), "op", tid, shift + nanos(e.get("ts")),
                        nanos(e.get("dur")), hasShape ? "input shapes" : null, 0, hasShape ? shape.toString() : null));
            }
        }
        return out;
    }

    /** libtorch prints microseconds as decimals with nanosecond digits; read them exactly. */
    private static long nanos(JsonNode micros) {
        return micros.decimalValue().movePointRight(3).setScale(0, RoundingMode.HALF_EVEN).longValueExact();
    }
}
