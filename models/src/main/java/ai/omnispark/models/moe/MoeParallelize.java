package ai.omnispark.models.moe;

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
 * The MoE decoder's plan on a data-parallel mesh: the training segments as they are; with recompute,
 * every attention and MLP segment drops its activations. Expert parallelism (a dispatch all-to-all
 * at the MLP boundary) is not implemented yet, so a mesh with ep > 1 or sp > 1 is refused.
 */
final class MoeParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null) {
            for (String dim : List.of(MeshDims.EP, MeshDims.SP)) {
                if (mesh.dimNames().contains(dim) && mesh.dimSize(dim) > 1) {
                    throw new IllegalArgumentException("the " + model.family() + " model runs data parallel only: mesh dim "
                            + dim + " = " + mesh.dimSize(dim) + " (expert and sequence parallelism are not implemented yet)");
                }
            }
        }
        List<Segment> segments = model.trainingSegments();
        if (!recompute) {
            return new Plan(segments, Recompute.none());
        }
        Set<String> blocks = new HashSet<>();
        for (Segment s : segments) {
            if (s instanceof MoeAttention || s instanceof MoeMlp) {
                blocks.add(s.name());
            }
        }
        return new Plan(segments, Recompute.named(blocks));
    }
}
