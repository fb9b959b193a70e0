package ai.omnispark.models.wan;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The Wan plan: the training segments as they are, data parallel over any dp_replicate x dp_shard
 * mesh (FSDP gathers the embedding, one block or the head at a time: each is a unit). With
 * recompute every block drops its activations and recomputes them in backward; the embedding and
 * head keep theirs. Ulysses sequence parallelism and expert parallelism are refused for now.
 */
final class WanParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null) {
            for (String dim : List.of(MeshDims.SP, MeshDims.EP)) {
                if (mesh.dimNames().contains(dim) && mesh.dimSize(dim) > 1) {
                    throw new IllegalArgumentException("the " + model.family() + " model does not support mesh dim "
                            + dim + " = " + mesh.dimSize(dim) + " yet (" + (dim.equals(MeshDims.SP)
                            ? "Ulysses sequence parallelism over the video tokens is not wired for this family"
                            : "it has no experts") + "); use data parallelism (dp_shard / dp_replicate)");
                }
            }
        }
        List<Segment> segments = model.trainingSegments();
        Set<String> blocks = new HashSet<>();
        for (Segment s : segments) {
            if (s instanceof WanBlockSegment) {
                blocks.add(s.name());
            }
        }
        return new Plan(segments, recompute ? Recompute.named(blocks) : Recompute.none());
    }
}
