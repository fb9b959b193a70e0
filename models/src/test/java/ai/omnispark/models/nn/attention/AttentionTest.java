package ai.omnispark.models.nn.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.runtime.RankContext;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every attention kernel against a float64 reference written with loops ({@link AttentionReference}):
 * output and gradients w.r.t. q, k and v within 1e-5, for causal and bidirectional attention, with
 * and without packed documents, plain and grouped-query heads, and lengths that are not multiples
 * of the chunked kernel's block.
 */
class AttentionTest {
    /** Small enough that S = 37 and 100 cross block edges, S = 64 lands on one. */
    private static final int BLOCK = 32;
    private static RankContext rank;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (AttentionImpl impl : new AttentionImpl[] {AttentionImpl.SDPA, AttentionImpl.CHUNKED, AttentionImpl.EAGER}) {
            for (int[] heads : new int[][] {{8, 2}, {4, 4}}) {
                for (int s : new int[] {1, 37, 64, 100}) {
                    for (boolean causal : new boolean[] {true, false}) {
                        for (boolean packed : new boolean[] {true, false}) {
                            cases.add(Arguments.of(impl, heads[0], heads[1], s, causal, packed));
                        }
                    }
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} heads {1}/{2} S {3} causal={4} packed={5}")
    @MethodSource("cases")
    void matchesFloat64Reference(AttentionImpl impl, int hq, int hkv, int s, boolean causal, boolean packed) {
        AttentionCase c = new AttentionCase(hq, hkv, s, 16, causal, packed, 31L * s + hq);
        try (Attention attention = new Attention(impl, BLOCK)) {
            c.check(attention, rank.manager(), true, impl.key());
            c.check(attention, rank.manager(), false, impl.key() + " no-grad");
        }
    }

    /** A generated module must describe each signature exactly: a wrong mask shows in the numbers above. */
    @Test
    void sdpaSourceSplitsRowsAtDocumentBoundariesAndFallsBackToTheMask() {
        String packedCausal = SdpaKernels.source(true, true, SdpaKernels.GqaMode.KERNEL, 0.125);
        assertTrue(packedCausal.contains("torch.split(qb, sizes, 2)"), packedCausal);
        assertTrue(packedCausal.contains("(qs[i], ks[i], vs[i], None, 0.0, True, scale=0.125, enable_gqa=True)"),
                packedCausal);
        assertTrue(packedCausal.contains("torch.eq(torch.unsqueeze(d, 1), torch.unsqueeze(d, 0))"), packedCausal);
        assertTrue(packedCausal.contains("(qb, kb, vb, torch.unsqueeze(mask, 0), 0.0, False, scale=0.125, "
                + "enable_gqa=True)"), packedCausal);
        String expanded = SdpaKernels.source(false, true, SdpaKernels.GqaMode.EXPAND, 0.125);
        assertTrue(expanded.contains("k = torch.repeat_interleave(k, group, 1)"), expanded);
        assertTrue(expanded.contains("(qs[i], ks[i], vs[i], None, 0.0, False, scale=0.125, enable_gqa=False)"),
                expanded);
        String causal = SdpaKernels.source(true, false, SdpaKernels.GqaMode.NONE, 0.25);
        assertTrue(causal.contains("(q, k, v, None, 0.0, True, scale=0.25, enable_gqa=False)"), causal);
        assertTrue(!causal.contains("doc"), causal);
    }

    /**
     * Document ids that recur after another document (row 0: 0 0 1 1 0 0 ..., row 1: runs of
     * three documents then padding) are not contiguous runs: the SDPA module takes its mask path for
     * row 0 and its split path for row 1, and both must match the float64 reference.
     */
    @ParameterizedTest(name = "causal={0}")
    @ValueSource(booleans = {true, false})
    void sdpaMatchesTheReferenceWhenDocumentsRecurInARow(boolean causal) {
        int s = 24;
        int[] doc = new int[2 * s];
        for (int i = 0; i < s; i++) {
            doc[i] = (i / 4) % 2;
            doc[s + i] = i < 20 ? i / 7 : -1;
        }
        AttentionCase c = new AttentionCase(4, 2, s, 16, causal, doc, 97L);
        try (Attention attention = new Attention(AttentionImpl.SDPA, BLOCK)) {
            c.check(attention, rank.manager(), true, "sdpa recurring docs");
        }
    }

    @Test
    void dropoutMaskRunsEagerUnderAutoAndIsRefusedByTheFusedPaths() {
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray q = scope.randomNormal(new Shape(1, 2, 5, 4));
            NDArray kv = scope.randomNormal(new Shape(1, 1, 5, 4));
            float[] keep = new float[2 * 5 * 5];
            for (int i = 0; i < keep.length; i++) {
                keep[i] = i % 3 == 0 ? 0f : 1.5f;
            }
            NDArray mask = Ops.owned(scope.create(keep, new Shape(1, 2, 5, 5)), DataType.FLOAT32);
            AttentionInputs in = new AttentionInputs(q, kv, kv, null, true, mask);
            try (Attention auto = new Attention(AttentionImpl.AUTO); Attention eager = new Attention(AttentionImpl.EAGER)) {
                assertArrayEquals(eager.attend(in).toFloatArray(), auto.attend(in).toFloatArray(), 0f);
            }
            for (AttentionImpl impl : new AttentionImpl[] {AttentionImpl.SDPA, AttentionImpl.CHUNKED}) {
                try (Attention attention = new Attention(impl)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> attention.attend(in));
                    assertTrue(e.getMessage().contains("dropout"), e.getMessage());
                }
            }
        }
    }

    @Test
    void badInputsAreNamed() {
        try (NDManager scope = rank.manager().newSubManager()) {
            NDArray q = scope.zeros(new Shape(1, 3, 5, 4));
            NDArray kv = scope.zeros(new Shape(1, 2, 5, 4));
            IllegalArgumentException heads = assertThrows(IllegalArgumentException.class,
                    () -> new AttentionInputs(q, kv, kv, null, true, null));
            assertTrue(heads.getMessage().contains("multiple of key/value heads"), heads.getMessage());
            NDArray q2 = scope.zeros(new Shape(1, 2, 5, 4));
            NDArray docs = scope.zeros(new Shape(1, 4), DataType.INT64);
            IllegalArgumentException doc = assertThrows(IllegalArgumentException.class,
                    () -> new AttentionInputs(q2, kv, kv, docs, true, null));
            assertTrue(doc.getMessage().contains("doc ids must be int64 [1, 5]"), doc.getMessage());
        }
        IllegalArgumentException impl = assertThrows(IllegalArgumentException.class, () -> AttentionImpl.parse("flash"));
        assertEquals("model.attention_impl must be auto, sdpa, chunked or eager, got 'flash'", impl.getMessage());
    }

    /**
     * A module libtorch cannot load: forced SDPA fails naming the load, AUTO falls back to the
     * chunked kernel and still gives the reference numbers and gradients.
     */
    @Test
    void autoFallsBackToChunkedWhenTheModuleCannotBeLoaded() {
        AttentionCase c = new AttentionCase(8, 2, 37, 16, true, true, 99);
        java.util.function.BiFunction<String, String, byte[]> broken = (name, source) -> new byte[] {'n', 'o', 't'};
        try (Attention forced = new Attention(AttentionImpl.SDPA, BLOCK, new SdpaKernels(broken))) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> c.check(forced, rank.manager(), true, "forced sdpa"));
            assertTrue(e.getMessage().startsWith("libtorch could not load the generated SDPA TorchScript module"),
                    e.getMessage());
        }
        try (Attention auto = new Attention(AttentionImpl.AUTO, BLOCK, new SdpaKernels(broken))) {
            c.check(auto, rank.manager(), true, "auto after a failed load");
            c.check(auto, rank.manager(), false, "auto after a failed load, no grad");
        }
    }
}
