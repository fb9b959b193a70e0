package ai.omnispark.models.vlm;

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
 * Qwen2-VL's plan: the training segments as they are, data parallel over any dp_replicate x
 * dp_shard mesh (FSDP gathers one ViT block, the merger or one decoder layer at a time, since each
 * is a unit). With recompute, every ViT block and every decoder attention and MLP half drops its
 * activations, as the LLM's blocks do; the patch embedding, merger, embedding and head keep theirs.
 * Sequence parallelism (a slice of every row per rank) and expert parallelism are refused: the
 * vision tokens of a row would have to follow their placeholders across the cut.
 */
final class Qwen2VlParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null) {
            for (String dim : List.of(MeshDims.SP, MeshDims.EP)) {
                if (mesh.dimNames().contains(dim) && mesh.dimSize(dim) > 1) {
                    throw new IllegalArgumentException("the " + model.family() + " model does not support mesh dim "
                            + dim + " = " + mesh.dimSize(dim) + " yet (" + (dim.equals(MeshDims.SP)
                            ? "Ulysses sequence parallelism" : "expert parallelism") + "); use data parallelism");
                }
            }
        }
        List<Segment> segments = model.trainingSegments();
        Set<String> blocks = new HashSet<>();
        for (Segment s : segments) {
            if (s instanceof VisionBlockSegment || s instanceof LanguageBlockSegment) {
                blocks.add(s.name());
            }
        }
        return new Plan(segments, recompute ? Recompute.named(blocks) : Recompute.none());
    }
}
