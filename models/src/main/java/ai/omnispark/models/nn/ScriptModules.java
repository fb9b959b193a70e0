package ai.omnispark.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;

/** How this project's generated TorchScript modules ({@link SiluMul}, attention's SDPA) are run. */
public final class ScriptModules {
    private ScriptModules() {}

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
