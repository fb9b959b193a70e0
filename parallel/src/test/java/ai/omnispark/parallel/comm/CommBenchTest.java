package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The benchmark's flags, its nccl-tests bandwidths and its JSON lines. */
class CommBenchTest {

    @Test
    void parsesTheIssueFlagsAndCommaLists() {
        CommBenchArgs a = CommBenchArgs.parse(new String[] {"--transport", "inproc", "--world", "3",
                "--op", "all_to_all", "--sizes", "1M,16M,64M"});
        assertEquals(List.of(BenchTransport.INPROC), a.transports);
        assertEquals(List.of(3), a.worlds);
        assertEquals(List.of("all_to_all"), a.ops);
        assertEquals(List.of(1L << 20, 16L << 20, 64L << 20), a.sizes);
        CommBenchArgs b = CommBenchArgs.parse(new String[] {"--transport", "tcp,uds,inproc",
                "--world", "2,4", "--ops", "all_reduce,reduce_scatter", "--sizes", "4096"});
        assertEquals(List.of(BenchTransport.TCP, BenchTransport.UDS, BenchTransport.INPROC),
                b.transports);
        // tcp stays honest loopback TCP; uds is the same transport over Unix sockets
        assertEquals(false, BenchTransport.TCP.localSockets);
        assertEquals(true, BenchTransport.UDS.localSockets);
        assertEquals(Transport.TCP, BenchTransport.UDS.transport);
        assertEquals(List.of(2, 4), b.worlds);
        assertEquals(List.of("all_reduce", "reduce_scatter"), b.ops);
        assertEquals(List.of(4096L), b.sizes);
        assertEquals(TcpCongestion.AUTO, b.tcpCongestion);
        assertEquals("system", CommBenchArgs.parse(new String[] {"--tcp-congestion", "system"}).tcpCongestion);
    }

    @Test
    void rejectsUnknownFlagsAndBadValuesNamingTheFlag() {
        assertBad("--bogus", new String[] {"--bogus", "1"});
        assertBad("--transport", new String[] {"--transport", "udp"});
        assertBad("--op", new String[] {"--op", "allreduce_typo"});
        assertBad("--world", new String[] {"--world", "two"});
        assertBad("--world", new String[] {"--world", "1"});
        assertBad("--sizes", new String[] {"--sizes", "12Q"});
        assertBad("--sizes", new String[] {"--sizes", "1M,,2M"});
        assertBad("--iters", new String[] {"--iters"});
        assertBad("--iters", new String[] {"--iters", "0"});
        assertBad("stray", new String[] {"stray"});
        assertBad("--tcp-congestion", new String[] {"--tcp-congestion", "Reno!"});
    }

    private static void assertBad(String named, String[] args) {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> CommBenchArgs.parse(args));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }

    @Test
    void bandwidthsFollowNcclTests() {
        // 1 GB in 1 s: algbw 1 GB/s; all-reduce at 4 ranks moves 2*3/4 of it, the others 3/4
        CommBenchResult ar = new CommBenchResult("tcp", 4, "all_reduce", 1_000_000_000L, 1000);
        assertEquals(1.0, ar.algbwGBps(), 1e-12);
        assertEquals(1.5, ar.busbwGBps(), 1e-12);
        for (String op : List.of("all_gather", "reduce_scatter", "all_to_all")) {
            assertEquals(0.75, new CommBenchResult("tcp", 4, op, 1_000_000_000L, 1000).busbwGBps(), 1e-12);
        }
        assertEquals(0.5, new CommBenchResult("tcp", 2, "all_gather", 1_000_000_000L, 1000).busbwGBps(), 1e-12);
        assertEquals("{\"transport\":\"tcp\",\"world\":4,\"op\":\"all_reduce\",\"bytes\":1000000000,"
                + "\"time_ms\":1000.000,\"algbw_GBps\":1.0000,\"busbw_GBps\":1.5000}", ar.json());
    }

    @Test
    void splitOpsRoundBytesDownToWholeBlocksPerRank() {
        assertEquals(1000, CommBench.effectiveBytes("all_reduce", 3, 1002));
        assertEquals(996, CommBench.effectiveBytes("all_gather", 3, 1002));
        assertThrows(IllegalArgumentException.class, () -> CommBench.effectiveBytes("all_to_all", 4, 8));
    }

    @Test
    void printsOneJsonObjectPerLinePerCase() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            CommBench.run(new String[] {"--transport", "tcp,uds,inproc", "--world", "2", "--op",
                    "all_reduce,all_to_all", "--sizes", "64K", "--warmup", "0", "--iters", "1"}, out);
        }
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        assertEquals(6, lines.length, String.join("\n", lines));
        Pattern p = Pattern.compile("\\{\"transport\":\"(tcp|uds|inproc)\",\"world\":2,\"op\":\"(\\w+)\","
                + "\"bytes\":65536,\"time_ms\":[0-9.]+,\"algbw_GBps\":[0-9.]+,\"busbw_GBps\":[0-9.]+}");
        for (String line : lines) {
            Matcher m = p.matcher(line);
            assertTrue(m.matches(), line);
        }
    }
}
