package ai.omnispark.parallel.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProfilerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode trace(Profiler p) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.writeTo(out);
        return JSON.readTree(out.toByteArray());
    }

    private static List<JsonNode> complete(JsonNode trace) {
        List<JsonNode> x = new ArrayList<>();
        for (JsonNode e : trace.get("traceEvents")) {
            if (e.get("ph").asText().equals("X")) {
                x.add(e);
            }
        }
        return x;
    }

    @Test
    void idleProfilerAllocatesNothingPerSpan() {
        Profiler p = new Profiler(0, false);
        assertSame(Span.NONE, p.span("x", "c"));
        assertSame(Span.NONE, p.span("x", "c", "bytes", 123456789L));
        assertSame(Span.NONE, p.span("x", "c", "unit", "block.0"));
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        for (int i = 0; i < 10_000; i++) { // warm up (JIT) first
            try (Span s = p.span("step", "train", "step", i)) {
                assertSame(Span.NONE, s);
            }
        }
        long before = mx.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 1_000_000; i++) {
            try (Span s = p.span("step", "train", "step", i)) {
                s.hashCode();
            }
        }
        long allocated = mx.getThreadAllocatedBytes(tid) - before;
        // a span object is >= 40 bytes: a million of them would be >= 40 MB; allow the MXBean's own noise
        assertTrue(allocated < 64 * 1024, "an idle profiler allocated " + allocated + " bytes over 1e6 spans");
        assertEquals(0, p.eventCount());
    }

    @Test
    void recordsOnlyInsideTheWindowAndNests() throws Exception {
        Profiler p = new Profiler(3, false);
        try (Span before = p.span("before", "t")) {
            p.start();
            try (Span outer = p.span("outer", "t", "bytes", 42)) {
                try (Span inner = p.span("inner", "t", "unit", "block.1")) {
                    Thread.sleep(1);
                }
            }
            Span straddles = p.span("straddles", "t");
            p.stop();
            straddles.close();
        }
        try (Span after = p.span("after", "t")) {
            assertSame(Span.NONE, after);
        }
        List<JsonNode> events = complete(trace(p));
        Map<String, JsonNode> byName = new HashMap<>();
        for (JsonNode e : events) {
            byName.put(e.get("name").asText(), e);
            assertEquals(3, e.get("pid").asInt());
        }
        assertEquals(List.of("inner", "outer").stream().sorted().toList(),
                byName.keySet().stream().sorted().toList(), "spans opened outside the window, or not closed in it, are dropped");
        JsonNode outer = byName.get("outer");
        JsonNode inner = byName.get("inner");
        assertEquals(42, outer.path("args").path("bytes").asLong());
        assertEquals("block.1", inner.path("args").path("unit").asText());
        double os = outer.get("ts").asDouble();
        double is = inner.get("ts").asDouble();
        assertTrue(is >= os && is + inner.get("dur").asDouble() <= os + outer.get("dur").asDouble() + 1e-3);
        assertTrue(inner.get("dur").asDouble() >= 1000, "slept 1 ms: " + inner);
    }

    @Test
    void startTwiceOrStopIdleIsRefused() throws Exception {
        Profiler p = new Profiler(0, false);
        assertThrows(IllegalStateException.class, p::stop);
        p.start();
        assertThrows(IllegalStateException.class, p::start);
        p.stop();
    }

    /**
     * libtorch's profiler is per thread: two ranks of one JVM tracing at once each get their own
     * ops only (rank 0 multiplies, rank 1 exponentiates).
     */
    @Test
    void concurrentRankThreadsTraceTheirOwnOps() throws Exception {
        Profiler[] profilers = {new Profiler(0, true), new Profiler(1, true)};
        List<Throwable> failures = new ArrayList<>();
        Thread[] threads = new Thread[2];
        java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(2);
        for (int r = 0; r < 2; r++) {
            int rank = r;
            threads[r] = new Thread(() -> {
                try (NDManager m = NDManager.newBaseManager("PyTorch")) {
                    NDArray x = m.ones(new Shape(16, 16));
                    together.await();
                    profilers[rank].start();
                    together.await(); // both recording
                    for (int i = 0; i < 5; i++) {
                        try (Span s = profilers[rank].span("work", "t"); NDArray y = rank == 0 ? x.matMul(x) : x.exp()) {
                            y.getShape();
                        }
                    }
                    together.await();
                    profilers[rank].stop();
                } catch (Throwable t) {
                    synchronized (failures) {
                        failures.add(t);
                    }
                }
            });
            threads[r].start();
        }
        for (Thread t : threads) {
            t.join(60_000);
        }
        assertTrue(failures.isEmpty(), String.valueOf(failures));
        for (int r = 0; r < 2; r++) {
            Map<String, Integer> ops = new HashMap<>();
            for (JsonNode e : complete(trace(profilers[r]))) {
                if (e.get("cat").asText().equals("op")) {
                    ops.merge(e.get("name").asText(), 1, Integer::sum);
                }
            }
            String mine = r == 0 ? "aten::mm" : "aten::exp";
            String theirs = r == 0 ? "aten::exp" : "aten::mm";
            assertEquals(5, ops.getOrDefault(mine, 0), "rank " + r + " ops " + ops);
            assertEquals(0, ops.getOrDefault(theirs, 0), "rank " + r + " saw the other rank's ops: " + ops);
        }
    }
}
