package ai.omnispark.models.nn.attention;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.runtime.Autograd;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.ResidentMemory;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Attention forward + backward per kernel ({@code bin/omnispark bench attention}): milliseconds per
 * call (median of the repeats) and the peak resident memory the calls add over the resident set
 * before them, one JSON line per (kernel, mask, length). Memory the allocator kept from earlier
 * lines counts as resident already, so compare memory with one kernel per process ({@code --impls}).
 * See docs/performance.md, "Attention kernels".
 */
public final class AttentionBench {
    private AttentionBench() {}

    public static void main(String[] argv) throws IOException {
        run(argv, System.out);
    }

    /** Options: --batch, --heads, --kv-heads, --head-dim, --seq (comma list), --impls, --masks (causal,packed), --repeats, --threads. */
    public static void run(String[] argv, PrintStream out) throws IOException {
        Options o = Options.parse(argv);
        try (RankContext rank = RankContext.single(o.threads)) {
            rank.bindThread();
            // libtorch's one-time setup (thread pools, allocator arenas) out of the first line's peak.
            try (Attention eager = new Attention(AttentionImpl.EAGER)) {
                call(rank.manager(), eager, o, 64, "packed");
            }
            for (int s : o.seq) {
                for (String mask : o.masks) {
                    for (AttentionImpl impl : o.impls) {
                        try (Attention attention = new Attention(impl)) {
                            out.println(measure(rank.manager(), attention, o, s, mask));
                        }
                    }
                }
            }
        }
    }

    private static String measure(NDManager parent, Attention attention, Options o, int s, String mask)
            throws IOException {
        long baseline = ResidentMemory.currentBytes();
        boolean peakReset = ResidentMemory.resetPeak();
        call(parent, attention, o, s, mask); // loads the module: timed apart from the repeats
        double[] ms = new double[o.repeats];
        for (int r = 0; r < o.repeats; r++) {
            long start = System.nanoTime();
            call(parent, attention, o, s, mask);
            ms[r] = (System.nanoTime() - start) / 1e6;
        }
        long peak = ResidentMemory.peakBytes();
        java.util.Arrays.sort(ms);
        return String.format(Locale.ROOT, "{\"bench\":\"attention\",\"impl\":\"%s\",\"mask\":\"%s\",\"batch\":%d,"
                + "\"heads\":%d,\"kv_heads\":%d,\"seq\":%d,\"head_dim\":%d,\"threads\":%d,\"fwd_bwd_ms\":%.1f,"
                + "\"min_ms\":%.1f,\"peak_added_mb\":%s}", attention.impl().key(), mask, o.batch, o.heads, o.kvHeads, s,
                o.headDim, o.threads, ms[ms.length / 2], ms[0],
                peakReset && peak >= 0 && baseline >= 0 ? String.format(Locale.ROOT, "%.0f", (peak - baseline) / (1024.0 * 1024))
                        : "null");
    }

    private static void call(NDManager parent, Attention attention, Options o, int s, String mask) {
        boolean previous = Autograd.setGradMode(true);
        try (NDManager scope = parent.newSubManager()) {
            NDArray q = Autograd.leaf(scope.randomNormal(new Shape(o.batch, o.heads, s, o.headDim)));
            NDArray k = Autograd.leaf(scope.randomNormal(new Shape(o.batch, o.kvHeads, s, o.headDim)));
            NDArray v = Autograd.leaf(scope.randomNormal(new Shape(o.batch, o.kvHeads, s, o.headDim)));
            NDArray docIds = null;
            if (mask.equals("packed")) {
                // Two documents per row, split unevenly: the doc-aware mask path.
                long[] ids = new long[o.batch * s];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = i % s < s / 3 ? 0 : 1;
                }
                docIds = Ops.owned(scope.create(ids, new Shape(o.batch, s)), DataType.INT64);
            }
            NDArray out = attention.attend(new AttentionInputs(q, k, v, docIds, true, null));
            Autograd.backward(out, out.onesLike(), false);
        } finally {
            Autograd.setGradMode(previous);
        }
    }

    private record Options(int batch, int heads, int kvHeads, int headDim, int[] seq, List<AttentionImpl> impls,
            List<String> masks, int repeats, int threads) {
        static Options parse(String[] argv) {
            int batch = 4;
            int heads = 8;
            int kvHeads = 8;
            int headDim = 64;
            int[] seq = {512, 1024, 2048};
            List<AttentionImpl> impls = List.of(AttentionImpl.EAGER, AttentionImpl.SDPA, AttentionImpl.CHUNKED);
            List<String> masks = List.of("causal", "packed");
            int repeats = 3;
            int threads = 1;
            for (int i = 0; i < argv.length; i++) {
                String flag = argv[i];
                if (i + 1 >= argv.length) {
                    throw new IllegalArgumentException("bench attention: " + flag + " needs a value");
                }
                String value = argv[++i];
                switch (flag) {
                    case "--batch" -> batch = positive(flag, value);
                    case "--heads" -> heads = positive(flag, value);
                    case "--kv-heads" -> kvHeads = positive(flag, value);
                    case "--head-dim" -> headDim = positive(flag, value);
                    case "--repeats" -> repeats = positive(flag, value);
                    case "--threads" -> threads = positive(flag, value);
                    case "--seq" -> {
                        String[] parts = value.split(",");
                        seq = new int[parts.length];
                        for (int p = 0; p < parts.length; p++) {
                            seq[p] = positive(flag, parts[p]);
                        }
                    }
                    case "--impls" -> {
                        List<AttentionImpl> list = new ArrayList<>();
                        for (String p : value.split(",")) {
                            list.add(AttentionImpl.parse(p));
                        }
                        impls = list;
                    }
                    case "--masks" -> {
                        for (String m : value.split(",")) {
                            if (!m.equals("causal") && !m.equals("packed")) {
                                throw new IllegalArgumentException("bench attention: --masks takes causal and/or packed, "
                                        + "got '" + m + "'");
                            }
                        }
                        masks = List.of(value.split(","));
                    }
                    default -> throw new IllegalArgumentException("bench attention: unknown option " + flag
                            + "; options: --batch --heads --kv-heads --head-dim --seq --impls --masks --repeats --threads");
                }
            }
            if (heads % kvHeads != 0) {
                throw new IllegalArgumentException("bench attention: --heads " + heads + " is not a multiple of --kv-heads "
                        + kvHeads);
            }
            return new Options(batch, heads, kvHeads, headDim, seq, impls, masks, repeats, threads);
        }

        private static int positive(String flag, String value) {
            int v;
            try {
                v = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bench attention: " + flag + " needs a positive integer, got '" + value + "'");
            }
            if (v <= 0) {
                throw new IllegalArgumentException("bench attention: " + flag + " needs a positive integer, got " + v);
            }
            return v;
        }
    }
}
