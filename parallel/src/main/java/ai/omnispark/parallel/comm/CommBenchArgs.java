package ai.omnispark.parallel.comm;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The command line of {@link CommBench}, checked up front: a typo in a flag or value fails with
 * the flag named instead of silently benchmarking something else for minutes. Every list flag
 * takes one value or a comma list.
 */
final class CommBenchArgs {
    static final List<String> OPS = List.of("all_reduce", "all_gather", "reduce_scatter", "all_to_all");
    static final String USAGE = "usage: bench comm [--transport tcp|uds|inproc[,...]] [--world 2,4] "
            + "[--op all_reduce|all_gather|reduce_scatter|all_to_all[,...]] [--sizes 1M,16M,64M] "
            + "[--warmup 2] [--iters 5] [--chunk 256K] [--tcp-congestion auto|system|<algorithm>]";

    final List<BenchTransport> transports;
    final List<Integer> worlds;
    final List<String> ops;
    final List<Long> sizes;
    final int warmup;
    final int iters;
    final int chunkBytes;
    final String tcpCongestion;

    private CommBenchArgs(List<BenchTransport> transports, List<Integer> worlds, List<String> ops,
            List<Long> sizes, int warmup, int iters, int chunkBytes, String tcpCongestion) {
        this.transports = List.copyOf(transports);
        this.worlds = List.copyOf(worlds);
        this.ops = List.copyOf(ops);
        this.sizes = List.copyOf(sizes);
        this.warmup = warmup;
        this.iters = iters;
        this.chunkBytes = chunkBytes;
        this.tcpCongestion = tcpCongestion;
    }

    /** Parses {@code args}; IllegalArgumentException naming the flag on anything unexpected. */
    static CommBenchArgs parse(String[] args) {
        List<BenchTransport> transports = List.of(BenchTransport.TCP);
        List<Integer> worlds = List.of(2, 4);
        List<String> ops = OPS;
        List<Long> sizes = List.of(64L << 20);
        int warmup = 2;
        int iters = 5;
        int chunk = CommConfig.DEFAULT_CHUNK_BYTES;
        String congestion = TcpCongestion.AUTO;
        for (int i = 0; i < args.length; i += 2) {
            String flag = args[i];
            if (!flag.startsWith("--")) {
                throw bad("unexpected argument '" + flag + "'");
            }
            if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                throw bad(flag + " needs a value");
            }
            String value = args[i + 1];
            switch (flag) {
                case "--transport":
                    transports = transports(value);
                    break;
                case "--world":
                    worlds = worlds(value);
                    break;
                case "--op":
                case "--ops":
                    ops = ops(flag, value);
                    break;
                case "--sizes":
                case "--size":
                    sizes = sizes(flag, value);
                    break;
                case "--warmup":
                    warmup = positiveInt(flag, value, 0);
                    break;
                case "--iters":
                    iters = positiveInt(flag, value, 1);
                    break;
                case "--chunk":
                    chunk = Math.toIntExact(size(flag, value));
                    if (chunk < 16) {
                        throw bad("--chunk must be at least 16 bytes, got '" + value + "'");
                    }
                    break;
                case "--tcp-congestion":
                    if (!TcpCongestion.isValidSetting(value)) {
                        throw bad("--tcp-congestion must be auto, system or an algorithm name "
                                + "such as reno, got '" + value + "'");
                    }
                    congestion = value;
                    break;
                default:
                    throw bad("unknown flag " + flag);
            }
        }
        return new CommBenchArgs(transports, worlds, ops, sizes, warmup, iters, chunk, congestion);
    }

    private static IllegalArgumentException bad(String why) {
        return new IllegalArgumentException("bench comm: " + why + "\n" + USAGE);
    }

    private static List<String> items(String flag, String value) {
        List<String> out = new ArrayList<>();
        for (String s : value.split(",", -1)) {
            String t = s.trim();
            if (t.isEmpty()) {
                throw bad(flag + " has an empty item in '" + value + "'");
            }
            out.add(t);
        }
        return out;
    }

    private static List<BenchTransport> transports(String value) {
        List<BenchTransport> out = new ArrayList<>();
        for (String t : items("--transport", value)) {
            switch (t.toLowerCase(Locale.ROOT)) {
                case "tcp":
                    out.add(BenchTransport.TCP);
                    break;
                case "uds":
                    out.add(BenchTransport.UDS);
                    break;
                case "inproc":
                case "in_process":
                    out.add(BenchTransport.INPROC);
                    break;
                default:
                    throw bad("--transport must be tcp, uds or inproc, got '" + t + "'");
            }
        }
        return out;
    }

    private static List<Integer> worlds(String value) {
        List<Integer> out = new ArrayList<>();
        for (String w : items("--world", value)) {
            int n = positiveInt("--world", w, 2);
            out.add(n);
        }
        return out;
    }

    private static List<String> ops(String flag, String value) {
        List<String> out = new ArrayList<>();
        for (String op : items(flag, value)) {
            String o = op.toLowerCase(Locale.ROOT).replace('-', '_');
            if (!OPS.contains(o)) {
                throw bad(flag + " must be one of " + String.join(", ", OPS) + ", got '" + op + "'");
            }
            out.add(o);
        }
        return out;
    }

    private static List<Long> sizes(String flag, String value) {
        List<Long> out = new ArrayList<>();
        for (String s : items(flag, value)) {
            out.add(size(flag, s));
        }
        return out;
    }

    private static int positiveInt(String flag, String value, int min) {
        int n;
        try {
            n = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw bad(flag + " must be an integer, got '" + value + "'");
        }
        if (n < min) {
            throw bad(flag + " must be at least " + min + ", got '" + value + "'");
        }
        return n;
    }

    /** A byte count with an optional binary suffix K, M or G (64M = 64 MiB, as nccl-tests). */
    static long size(String flag, String value) {
        String s = value.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("K")) {
            mult = 1L << 10;
        } else if (s.endsWith("M")) {
            mult = 1L << 20;
        } else if (s.endsWith("G")) {
            mult = 1L << 30;
        }
        if (mult > 1) {
            s = s.substring(0, s.length() - 1);
        }
        long n;
        try {
            n = Math.multiplyExact(Long.parseLong(s), mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw bad(flag + " takes sizes like 1M or 65536, got '" + value + "'");
        }
        if (n < 4) {
            throw bad(flag + " sizes must be at least 4 bytes, got '" + value + "'");
        }
        return n;
    }
}
