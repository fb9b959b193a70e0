package ai.omnispark.parallel.comm;

import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class NcclCommunicatorTest {

    @Test
    void ncclNeedsACudaDevice() {
        Assumptions.assumeTrue(Engine.getEngine("PyTorch").getGpuCount() > 0, "no CUDA device");
        // With a GPU this is where the NCCL transport gets verified; the placeholder still refuses.
        assertThrows(UnsupportedOperationException.class, () -> new NcclCommunicator(
                CommConfig.builder().rank(0).worldSize(1).secret(new byte[] {1}).build()));
    }
}
