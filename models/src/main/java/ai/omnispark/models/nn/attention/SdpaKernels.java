package ai.omnispark.models.nn.attention;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.omnispark.models.nn.ScriptModules;
import ai.omnispark.parallel.runtime.TorchScriptArchive;
import java.io.IOException;
import java.util.function.BiFunction;

/**
 * libtorch's {@code scaled_dot_product_attention} reached through TorchScript modules generated
 * here ({@link TorchScriptArchive}) and loaded once per signature (mask kind, GQA, scale, device).
 *
 * <p>The modules have no parameters and no state: a call runs the interpreter under the calling
 * thread's grad mode (DJL's forward with {@code isTrain} true installs no guard of its own), so
 * autograd records through SDPA's own backward and {@code JniUtils.backward} reaches q, k and v.
 * A TorchScript module's methods may run on several threads at once (its executor locks while it
 * compiles a plan); AttentionConcurrencyTest runs two ranks' threads through one instance, each
 * under its own grad mode. The loaded modules live in a {@link ScriptModules}, freed by
 * {@link #close}.
 */
final class SdpaKernels implements AutoCloseable {
    private final ScriptModules modules = new ScriptModules("sdpa-kernels");
    /** (class name, source) to archive bytes: {@link TorchScriptArchive#module}, or a broken one in tests. */
    private final BiFunction<String, String, byte[]> archives;
    private boolean closed;

    SdpaKernels() {
        this(TorchScriptArchive::module);
    }

    SdpaKernels(BiFunction<String, String, byte[]> archives) {
        this.archives = archives;
    }

    /** softmax(q k^T * scale + mask) v; the output lives in q's manager. */
    NDArray attend(AttentionInputs in) {
        if (in.dropoutMask() != null) {
            throw new IllegalArgumentException("the SDPA path applies no host-drawn dropout mask; use eager");
        }
        PtSymbolBlock module = load(in);
        NDList args = in.docIds() != null ? new NDList(in.q(), in.k(), in.v(), in.docIds())
                : new NDList(in.q(), in.k(), in.v());
        return ScriptModules.forward(module, args);
    }

    /** The module for {@code in}'s signature, generated and loaded on first use. */
    PtSymbolBlock load(AttentionInputs in) {
        Device device = in.q().getDevice();
        // libtorch 2.5's CPU flash kernel refuses enable_gqa and SDPA then falls back to its math
        // path, which materialises the [S, S] scores: measured slower than expanding K/V to the
        // query heads first (B * Hq * S * D, small beside S^2) and running flash. Elsewhere the
        // fused kernels read the shared heads themselves.
        boolean gqa = in.queryHeads() != in.kvHeads();
        GqaMode gqaMode = !gqa ? GqaMode.NONE : device.isGpu() ? GqaMode.KERNEL : GqaMode.EXPAND;
        return module(device, in.causal(), in.docIds() != null, gqaMode, in.scale());
    }

    /** How grouped-query heads reach SDPA. */
    enum GqaMode {
        /** As many k/v heads as query heads. */
        NONE,
        /** SDPA's enable_gqa: the kernel indexes the shared k/v head. */
        KERNEL,
        /** k/v repeated to the query heads inside the module (autograd sums the copies back). */
        EXPAND
    }

    private synchronized PtSymbolBlock module(Device device, boolean causal, boolean doc, GqaMode gqa, double scale) {
        if (closed) {
            throw new IllegalStateException("SDPA kernels were closed");
        }
        String key = device + "|" + causal + "|" + doc + "|" + gqa + "|" + scale;
        PtSymbolBlock module = modules.get(key);
        if (module == null) {
            byte[] archive = archives.apply(CLASS, source(causal, doc, gqa, scale));
            try {
                module = modules.load(device, key, archive);
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("libtorch could not load the generated SDPA TorchScript module for "
                        + key + " (" + e + "); model.attention_impl chunked or auto avoids it", e);
            }
        }
        return module;
    }

    private static final String CLASS = "Sdpa";

    /**
     * The module's code. Without document ids a causal call uses SDPA's is_causal and a
     * bidirectional one no mask at all, which lets the flash kernel run unmasked. With them, each
     * row whose documents are contiguous runs (as the packer lays them out) is split at the
     * document boundaries and each document attends within itself, with is_causal when causal: no
     * [S, S] mask exists, so the memory kept for backward grows with S, not S^2 (libtorch's CPU
     * flash kernel converts a boolean mask into a float [B, 1, S, S] and keeps it per layer). A row
     * whose document ids recur after another document falls back to the boolean mask (same
     * document, and j <= i when causal) for that row.
     */
    static String source(boolean causal, boolean doc, GqaMode gqa, double scale) {
        StringBuilder s = new StringBuilder();
        s.append("class ").append(CLASS).append("(Module):\n");
        s.append("  __parameters__ = []\n");
        s.append("  __buffers__ = []\n");
        s.append("  training : bool\n");
        s.append("  def forward(self: __torch__.").append(CLASS).append(", q: Tensor, k: Tensor, v: Tensor");
        s.append(doc ? ", doc: Tensor) -> Tensor:\n" : ") -> Tensor:\n");
        if (gqa == GqaMode.EXPAND) {
            s.append("    group = torch.floordiv(torch.size(q, 1), torch.size(k, 1))\n");
            s.append("    k = torch.repeat_interleave(k, group, 1)\n");
            s.append("    v = torch.repeat_interleave(v, group, 1)\n");
        }
        String tail = ", scale=" + Double.toString(scale) + ", enable_gqa=" + (gqa == GqaMode.KERNEL ? "True" : "False")
                + ")";
        String isCausal = causal ? "True" : "False";
        if (!doc) {
            s.append("    return torch.scaled_dot_product_attention(q, k, v, None, 0.0, ").append(isCausal).append(tail)
                    .append("\n");
            return s.toString();
        }
        // Rows by split, not select: select's backward zero-fills a whole [B, H, S, D] gradient per
        // row and autograd then sums B of them (measured 12 % of a 2048-token step); split's is one cat.
        s.append("    rows = annotate(List[Tensor], [])\n");
        s.append("    qrows = torch.split(q, 1, 0)\n");
        s.append("    krows = torch.split(k, 1, 0)\n");
        s.append("    vrows = torch.split(v, 1, 0)\n");
        s.append("    for b in range(torch.size(q, 0)):\n");
        s.append("      d = torch.select(doc, 0, b)\n");
        s.append("      qb = qrows[b]\n");
        s.append("      kb = krows[b]\n");
        s.append("      vb = vrows[b]\n");
        s.append("      runs, inverse, counts = torch.unique_consecutive(d, False, True, None)\n");
        s.append("      ordered, order = torch.sort(d, -1, False)\n");
        s.append("      docs, inverse2, counts2 = torch.unique_consecutive(ordered, False, False, None)\n");
        s.append("      if torch.size(docs, 0) == torch.size(runs, 0):\n");
        s.append("        sizes: List[int] = counts.tolist()\n");
        s.append("        qs = torch.split(qb, sizes, 2)\n");
        s.append("        ks = torch.split(kb, sizes, 2)\n");
        s.append("        vs = torch.split(vb, sizes, 2)\n");
        s.append("        outs = annotate(List[Tensor], [])\n");
        s.append("        for i in range(torch.len(sizes)):\n");
        s.append("          outs.append(torch.scaled_dot_product_attention(qs[i], ks[i], vs[i], None, 0.0, ")
                .append(isCausal).append(tail).append(")\n");
        s.append("        rows.append(torch.cat(outs, 2))\n");
        s.append("      else:\n");
        s.append("        mask = torch.unsqueeze(torch.eq(torch.unsqueeze(d, 1), torch.unsqueeze(d, 0)), 0)\n");
        if (causal) {
            s.append("        idx = torch.arange(torch.size(q, 2), device=q.device)\n");
            s.append("        mask = torch.logical_and(mask, torch.ge(torch.unsqueeze(idx, 1), torch.unsqueeze(idx, 0)))\n");
        }
        s.append("        rows.append(torch.scaled_dot_product_attention(qb, kb, vb, torch.unsqueeze(mask, 0), 0.0, False")
                .append(tail).append(")\n");
        s.append("    return torch.cat(rows, 0)\n");
        return s.toString();
    }

    @Override
    public synchronized void close() {
        closed = true;
        modules.close();
    }
}
