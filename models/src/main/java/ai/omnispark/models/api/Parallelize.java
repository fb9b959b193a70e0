package ai.omnispark.models.api;

import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A family's plan for running its model on a mesh (TorchTitan's parallelize.py): the segment list
 * to run, with any communicating segments a plan needs inserted, which segments recompute, and how
 * a rank's batches are cut from the rows it reads (Ulysses: each sp rank takes a slice of every row).
 */
public interface Parallelize {
    /**
     * The segments to run and their recompute policy.
     *
     * @param batches turns the model's collator into the one the trainer uses on this rank
     */
    record Plan(List<Segment> segments, Recompute recompute, UnaryOperator<Collator> batches) {
        public Plan {
            segments = List.copyOf(segments);
        }

        /** A plan whose ranks collate the rows they read as the model does. */
        public Plan(List<Segment> segments, Recompute recompute) {
            this(segments, recompute, UnaryOperator.identity());
        }

        /** The collator for this rank, given the model's. */
        public Collator collator(Collator model) {
            return batches.apply(model);
        }
    }

    /**
     * @param mesh the rank's mesh; null on one rank
     * @param recompute train.enable_gradient_checkpointing: drop activations in forward and recompute them in backward
     */
    Plan apply(Model model, DeviceMesh mesh, boolean recompute);
}
