package ai.omnispark.parallel.profile;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Chrome trace event format (what ui.perfetto.dev and chrome://tracing open): a JSON object
 * whose {@code traceEvents} are complete events ({@code "ph":"X"}, {@code ts} and {@code dur} in
 * microseconds) and metadata events naming processes and threads. One process per rank
 * ({@code pid} = rank), one track per thread.
 *
 * <p>A rank's file counts time from its profiler's creation and records that moment's Unix time
 * in {@code otherData.origin_unix_ns}; {@link #merge} puts every rank on the earliest rank's zero,
 * so ranks of different JVMs line up as well as their hosts' clocks agree. Times are written with
 * nanosecond digits from integers, and shifted exactly, so spans nested in nanoseconds stay nested.
 */
public final class ChromeTrace {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    private static final JsonFactory FACTORY = JSON.getFactory()
            .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);

    private ChromeTrace() {}

    /** Where one rank's trace is read from (opened twice by {@link #merge}). */
    public interface Input {
        InputStream open() throws IOException;

        /** Names the input in error messages. */
        String describe();
    }

    /**
     * Starts a trace file: its header ({@code rank} only for one rank's file) and the open
     * {@code traceEvents} array that the caller fills, then closes with the object.
     */
    private static JsonGenerator openTrace(OutputStream out, Integer rank, long originUnixNs) throws IOException {
        JsonGenerator g = FACTORY.createGenerator(out, JsonEncoding.UTF8);
        g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
        g.writeStartObject();
        g.writeStringField("displayTimeUnit", "ms");
        g.writeObjectFieldStart("otherData");
        if (rank != null) {
            g.writeNumberField("rank", rank);
        }
        g.writeNumberField("origin_unix_ns", originUnixNs);
        g.writeEndObject();
        g.writeArrayFieldStart("traceEvents");
        return g;
    }

    static void writeRank(OutputStream out, int rank, long originUnixNs, List<TraceEvent> events,
            Map<Long, String> threadNames, long mainTid) throws IOException {
        List<TraceEvent> sorted = new ArrayList<>(events);
        // Per track by start, enclosing spans first: readers that expect begin order get it.
        sorted.sort(Comparator.comparingLong(TraceEvent::tid).thenComparingLong(TraceEvent::startNs)
                .thenComparing(Comparator.comparingLong(TraceEvent::durationNs).reversed()));
        try (JsonGenerator g = openTrace(out, rank, originUnixNs)) {
            metadata(g, rank, 0, "process_name", "name", "rank " + rank);
            metadata(g, rank, 0, "process_sort_index", "sort_index", rank);
            int order = 0;
            for (Map.Entry<Long, String> t : threadNames.entrySet()) {
                long tid = t.getKey();
                metadata(g, rank, tid, "thread_name", "name", t.getValue());
                // the rank thread first, then libtorch's op tracks, then the rest (comm threads)
                int sort = tid == mainTid ? 0 : tid >= TorchOps.TID_BASE ? 1 : 2 + order++;
                metadata(g, rank, tid, "thread_sort_index", "sort_index", sort);
            }
            for (TraceEvent e : sorted) {
                g.writeStartObject();
                g.writeStringField("name", e.name());
                g.writeStringField("cat", e.category());
                g.writeStringField("ph", "X");
                g.writeNumberField("pid", rank);
                g.writeNumberField("tid", e.tid());
                g.writeNumberField("ts", micros(e.startNs()));
                g.writeNumberField("dur", micros(e.durationNs()));
                if (e.argName() != null) {
                    g.writeObjectFieldStart("args");
                    if (e.argText() != null) {
                        g.writeStringField(e.argName(), e.argText());
                    } else {
                        g.writeNumberField(e.argName(), e.argValue());
                    }
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
    }

    /**
     * Merges rank traces written by {@link Profiler#writeTo} into one trace with a process per
     * rank; returns the number of events written.
     */
    public static long merge(List<? extends Input> ranks, OutputStream out) throws IOException {
        if (ranks.isEmpty()) {
            throw new IllegalArgumentException("no rank trace to merge");
        }
        long[] origins = new long[ranks.size()];
        int[] rankIds = new int[ranks.size()];
        Set<Integer> seen = new HashSet<>();
        long zero = Long.MAX_VALUE;
        for (int i = 0; i < ranks.size(); i++) {
            Input in = ranks.get(i);
            JsonNode other = header(in);
            rankIds[i] = other.path("rank").asInt(-1);
            origins[i] = other.path("origin_unix_ns").asLong();
            if (rankIds[i] < 0 || !other.path("origin_unix_ns").isIntegralNumber()) {
                throw new IOException(in.describe() + " is not a rank trace: its otherData has no rank and "
                        + "origin_unix_ns");
            }
            if (!seen.add(rankIds[i])) {
                throw new IOException(in.describe() + " holds rank " + rankIds[i] + ", which another input holds too");
            }
            zero = Math.min(zero, origins[i]);
        }
        long count = 0;
        try (JsonGenerator g = openTrace(out, null, zero)) {
            for (int i = 0; i < ranks.size(); i++) {
                BigDecimal shift = BigDecimal.valueOf(origins[i] - zero, 3);
                count += copyEvents(ranks.get(i), rankIds[i], shift, g);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        return count;
    }

    /** The {@code otherData} object, which a rank trace writes before its events. */
    private static JsonNode header(Input in) throws IOException {
        try (InputStream s = in.open(); JsonParser p = FACTORY.createParser(s)) {
            expect(p.nextToken() == JsonToken.START_OBJECT, in, "does not start with a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.getCurrentName();
                p.nextToken();
                if (field.equals("otherData")) {
                    return JSON.readTree(p);
                }
                expect(!field.equals("traceEvents"), in, "has its traceEvents before otherData");
                p.skipChildren();
            }
            throw new IOException(in.describe() + " has no otherData");
        }
    }

    private static long copyEvents(Input in, int rank, BigDecimal shift, JsonGenerator g) throws IOException {
        long count = 0;
        try (InputStream s = in.open(); JsonParser p = FACTORY.createParser(s)) {
            p.nextToken();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.getCurrentName();
                p.nextToken();
                if (!field.equals("traceEvents")) {
                    p.skipChildren();
                    continue;
                }
                expect(p.currentToken() == JsonToken.START_ARRAY, in, "has traceEvents that are not an array");
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    ObjectNode e = JSON.readTree(p);
                    expect(e.path("pid").asInt(-1) == rank, in, "has an event of pid " + e.path("pid")
                            + " in the trace of rank " + rank);
                    if (e.has("ts")) {
                        e.put("ts", e.get("ts").decimalValue().add(shift));
                    }
                    JSON.writeTree(g, e);
                    count++;
                }
            }
        }
        return count;
    }

    private static void expect(boolean ok, Input in, String problem) throws IOException {
        if (!ok) {
            throw new IOException(in.describe() + " " + problem);
        }
    }

    private static BigDecimal micros(long ns) {
        return BigDecimal.valueOf(ns, 3);
    }

    private static void metadata(JsonGenerator g, int pid, long tid, String name, String argName, Object value)
            throws IOException {
        g.writeStartObject();
        g.writeStringField("name", name);
        g.writeStringField("ph", "M");
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        g.writeObjectFieldStart("args");
        if (value instanceof Number n) {
            g.writeNumberField(argName, n.longValue());
        } else {
            g.writeStringField(argName, String.valueOf(value));
        }
        g.writeEndObject();
        g.writeEndObject();
    }
}
