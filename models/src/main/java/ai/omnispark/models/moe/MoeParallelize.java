package ai.omnispark.models.moe;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The MoE decoder's plan on a mesh: the training segments as they are, except that with ep > 1
 * each sparse MLP becomes the five segments of {@link ExpertParallelMlp} (route, dispatch
 * all-to-all, local experts, combine all-to-all, merge); with recompute, every attention and every
 * recorded MLP segment drops its activations (the all-to-alls are manual and never re-run).
 * Sequence parallelism is not implemented yet, so a mesh with sp > 1 is refused.
 */
final class MoeParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null && mesh.dimNames().contains(MeshDims.SP) && mesh.dimSize(MeshDims.SP) > 1) {
            throw new IllegalArgumentException("the " + model.family() + " model does not run sequence parallel yet: mesh dim "
                    + MeshDims.SP + " = " + mesh.dimSize(MeshDims.SP));
        }
        List<Segment> segments = model.trainingSegments();
        boolean expertParallel = mesh != null && mesh.dimNames().contains(MeshDims.EP) && mesh.dimSize(MeshDims.EP) > 1;
        if (expertParallel) {
            MoeConfig config = ((MoeLM) model).config();
            List<Segment> split = new ArrayList<>();
            for (Segment s : segments) {
                if (s instanceof MoeMlp mlp && config.sparse(mlp.layer())) {
                    split.addAll(ExpertParallelMlp.segments(config, mlp.layer(), mesh.group(MeshDims.EP)));
                } else {
                    split.add(s);
                }
            }
            segments = split;
        }
        if (!recompute) {
            return new Plan(segments, Recompute.none());
        }
        Set<String> blocks = new HashSet<>();
        for (Segment s : segments) {
            if (s instanceof MoeAttention || s instanceof MoeMlp || ExpertParallelMlp.recorded(s)) {
                blocks.add(s.name());
            }
        }
        return new Plan(segments, Recompute.named(blocks));
    }
}
