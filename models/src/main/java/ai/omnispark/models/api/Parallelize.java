package ai.omnispark.models.api;

import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import java.util.List;

/**
 * A family's plan for running its model on a mesh (TorchTitan's parallelize.py): the segment list
 * to run, with any communicating segments a plan needs inserted, and which segments recompute.
 */
public interface Parallelize {
    /** The segments to run and their recompute policy. */
    record Plan(List<Segment> segments, Recompute recompute) {
        public Plan {
            segments = List.copyOf(segments);
        }
    }

    /**
     * @param mesh the rank's mesh; null on one rank
     * @param recompute train.enable_gradient_checkpointing: drop activations in forward and recompute them in backward
     */
    Plan apply(Model model, DeviceMesh mesh, boolean recompute);
}
