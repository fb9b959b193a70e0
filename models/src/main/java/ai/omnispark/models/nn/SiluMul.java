package ai.omnispark.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.omnispark.parallel.runtime.TorchScriptArchive;
import java.io.IOException;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SwiGLU's activation {@code silu(gate) * up} as one call into libtorch, through a TorchScript
 * module generated here ({@link TorchScriptArchive}) and loaded once per device. One instance per
 * model (per rank); {@link #close} frees the modules.
 *
 * <p>Why: DJL has no SiLU, and composed from its ops ({@code gate * sigmoid(gate) * up}) autograd
 * keeps four gate-sized tensors per layer (gate, its sigmoid, the SiLU, up) and the forward makes
 * two more passes over them. libtorch's {@code silu} keeps only its input. On the medium model at
 * 512 tokens (docs/performance.md, "Resident memory") a step's resident peak dropped and its
 * time with it.
 *
 * <p>If the module cannot be generated or loaded, the DJL composition runs instead (same values
 * within float rounding) and a warning says so once; {@link #fused} tells which path runs.
 */
public final class SiluMul implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SiluMul.class);
    private static final String CLASS = "SiluMul";
    static final String SOURCE = "class " + CLASS + "(Module):\n"
            + "  __parameters__ = []\n"
            + "  __buffers__ = []\n"
            + "  training : bool\n"
            + "  def forward(self: __torch__." + CLASS + ", gate: Tensor, up: Tensor) -> Tensor:\n"
            + "    return torch.mul(torch.silu(gate), up)\n";

    private final ScriptModules modules = new ScriptModules("silu-mul-kernel");
    /** (class name, source) to archive bytes: {@link TorchScriptArchive#module}, or a broken one in tests. */
    private final BiFunction<String, String, byte[]> archives;
    private boolean closed;
    private volatile boolean unavailable;

    public SiluMul() {
        this(TorchScriptArchive::module);
    }

    SiluMul(BiFunction<String, String, byte[]> archives) {
        this.archives = archives;
    }

    /** {@code silu(gate) * up}; the result lives in {@code gate}'s manager. */
    public NDArray apply(NDArray gate, NDArray up) {
        PtSymbolBlock module = module(gate.getDevice());
        if (module == null) {
            return Ops.silu(gate).mul(up);
        }
        return ScriptModules.forward(module, new NDList(gate, up));
    }

    /** Whether {@link #apply} runs libtorch's silu (false once the module failed to load). */
    public boolean fused() {
        return !unavailable;
    }

    private synchronized PtSymbolBlock module(Device device) {
        if (closed) {
            throw new IllegalStateException("the SiLU kernel was closed with its model");
        }
        if (unavailable) {
            return null;
        }
        PtSymbolBlock module = modules.get(device.toString());
        if (module == null) {
            try {
                module = modules.load(device, device.toString(), archives.apply(CLASS, SOURCE));
            } catch (IOException | RuntimeException e) {
                unavailable = true;
                LOG.warn("libtorch could not load the generated SiLU TorchScript module; SwiGLU runs on DJL ops", e);
                return null;
            }
        }
        return module;
    }

    @Override
    public synchronized void close() {
        closed = true;
        modules.close();
    }
}
