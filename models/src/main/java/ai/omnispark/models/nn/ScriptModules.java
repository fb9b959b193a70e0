package ai.omnispark.models.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * This project's generated TorchScript modules ({@link SiluMul}, attention's SDPA): loaded once
 * per key into a manager of their own, which {@link #close} frees, and run by {@link #forward}.
 * Not thread-safe: owners call {@link #get} and {@link #load} under their own lock.
 */
public final class ScriptModules implements AutoCloseable {
    private final String name;
    private final Map<String, PtSymbolBlock> modules = new HashMap<>();
    private NDManager manager;

    /** @param name the modules' manager's name */
    public ScriptModules(String name) {
        this.name = name;
    }

    /** The module loaded under {@code key}, or null. */
    public PtSymbolBlock get(String key) {
        return modules.get(key);
    }

    /** Loads {@code archive} (a TorchScript zip) on {@code device} and keeps it under {@code key}. */
    public PtSymbolBlock load(Device device, String key, byte[] archive) throws IOException {
        if (manager == null) {
            manager = NDManager.newBaseManager(device, "PyTorch");
            manager.setName(name);
        }
        PtSymbolBlock module = JniUtils.loadModule((PtNDManager) manager, new ByteArrayInputStream(archive), true, false);
        modules.put(key, module);
        return module;
    }

    @Override
    public void close() {
        modules.clear();
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }

    /**
     * Runs {@code module} on {@code args} under the calling thread's grad mode; its one output
     * lives in the first argument's manager. The graph executor's optimizer is off for the call:
     * these modules are single ops or short chains with nothing to fuse, and with it on the first
     * training forward profiled and compiled each one, which raised that step's resident peak by
     * ~1 GB on the medium model at 512 tokens (docs/performance.md).
     */
    public static NDArray forward(PtSymbolBlock module, NDList args) {
        JniUtils.setGraphExecutorOptimize(false);
        return IValueUtils.forward(module, args, true).singletonOrThrow();
    }
}
