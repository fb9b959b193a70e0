package ai.omnispark.models.llm;

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
 * The decoder's plan: the training segments as they are (data parallel needs no segment of its
 * own), and with recompute, every attention and MLP segment drops its activations; the embedding
 * and the head (whose chunked loss already bounds its memory) keep theirs.
 */
final class DecoderParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null) {
            for (String dim : List.of(MeshDims.EP, MeshDims.SP)) {
                if (mesh.dimNames().contains(dim) && mesh.dimSize(dim) > 1) {
                    throw new IllegalArgumentException("the " + model.family() + " model runs data parallel only: mesh dim "
                            + dim + " = " + mesh.dimSize(dim) + (dim.equals(MeshDims.EP)
                                    ? " (a dense model has no experts to split)" : " (Ulysses is not implemented yet)"));
                }
            }
        }
        List<Segment> segments = model.trainingSegments();
        if (!recompute) {
            return new Plan(segments, Recompute.none());
        }
        Set<String> blocks = new HashSet<>();
        for (Segment s : segments) {
            if (s instanceof AttentionSegment || s instanceof MlpSegment) {
                blocks.add(s.name());
            }
        }
        return new Plan(segments, Recompute.named(blocks));
    }
}
