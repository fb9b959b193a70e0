package ai.omnispark.parallel.comm;

/**
 * Placeholder for the NCCL transport of CUDA tensors. It will implement {@link Communicator} over
 * NCCL once a CUDA device is available to build and verify it against; until then constructing it
 * fails rather than pretending.
 */
public final class NcclCommunicator {
    public NcclCommunicator(CommConfig config) {
        throw new UnsupportedOperationException("NCCL transport is not implemented yet: it needs a "
                + "CUDA device and NCCL to build and verify against, and none was available; "
                + "use Transport.TCP or Transport.IN_PROCESS for CPU tensors");
    }
}
