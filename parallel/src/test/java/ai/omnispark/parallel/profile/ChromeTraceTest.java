package ai.omnispark.parallel.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChromeTraceTest {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private static ChromeTrace.Input input(String name, String text) {
        return new ChromeTrace.Input() {
            @Override
            public InputStream open() {
                return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
            }

            @Override
            public String describe() {
                return name;
            }
        };
    }

    private static String rank(int rank, long originNs, long startNs, long durNs) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ChromeTrace.writeRank(out, rank, originNs, List.of(new TraceEvent("step", "train", 7, startNs, durNs, "step",
                5, null)), Map.of(7L, "rank-thread"), 7);
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Rank 1 started its clock 3.25 µs after rank 0: its events move 3.25 µs later, exactly. */
    @Test
    void mergePutsRanksOnTheEarliestClock() throws Exception {
        String r0 = rank(0, 1_000_000_000_000L, 1_000, 500);
        String r1 = rank(1, 1_000_000_003_250L, 1_001, 7);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long n = ChromeTrace.merge(List.of(input("r1", r1), input("r0", r0)), out);
        JsonNode merged = JSON.readTree(out.toByteArray());
        assertEquals(1_000_000_000_000L, merged.path("otherData").path("origin_unix_ns").asLong());
        int complete = 0;
        int names = 0;
        for (JsonNode e : merged.get("traceEvents")) {
            if (e.get("ph").asText().equals("M")) {
                if (e.get("name").asText().equals("process_name")) {
                    assertEquals("rank " + e.get("pid").asInt(), e.path("args").path("name").asText());
                    names++;
                }
                continue;
            }
            complete++;
            BigDecimal expectTs = e.get("pid").asInt() == 0 ? new BigDecimal("1.000") : new BigDecimal("4.251");
            BigDecimal expectDur = e.get("pid").asInt() == 0 ? new BigDecimal("0.500") : new BigDecimal("0.007");
            assertEquals(0, expectTs.compareTo(e.get("ts").decimalValue()), e.toString());
            assertEquals(0, expectDur.compareTo(e.get("dur").decimalValue()), e.toString());
            assertEquals(5, e.path("args").path("step").asInt());
        }
        assertEquals(2, complete);
        assertEquals(2, names);
        assertTrue(n >= 2 + 2 * 4, "events and their metadata: " + n);
    }

    @Test
    void mergeRefusesTwoTracesOfOneRankAndForeignPids() throws Exception {
        String r0 = rank(0, 1, 0, 1);
        IOException twice = assertThrows(IOException.class,
                () -> ChromeTrace.merge(List.of(input("a", r0), input("b", r0)), new ByteArrayOutputStream()));
        assertTrue(twice.getMessage().contains("b holds rank 0"), twice.getMessage());
        String foreign = r0.replace("\"pid\":0", "\"pid\":9");
        IOException pid = assertThrows(IOException.class,
                () -> ChromeTrace.merge(List.of(input("f", foreign)), new ByteArrayOutputStream()));
        assertTrue(pid.getMessage().contains("f has an event of pid 9"), pid.getMessage());
        IOException notTrace = assertThrows(IOException.class,
                () -> ChromeTrace.merge(List.of(input("x", "{\"traceEvents\":[]}")), new ByteArrayOutputStream()));
        assertTrue(notTrace.getMessage().contains("x has its traceEvents before otherData"), notTrace.getMessage());
    }
}
