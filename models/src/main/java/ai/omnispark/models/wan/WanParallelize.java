package ai.omnispark.models.wan;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.nn.ulysses.SequenceShards;
import ai.omnispark.models.nn.ulysses.UlyssesAttention;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The Wan plan: the training segments as they are, data parallel over any dp_replicate x dp_shard
 * mesh (FSDP gathers the embedding, one block or the head at a time: each is a unit). Under Ulysses
 * (mesh dim sp > 1) every block becomes its five Ulysses segments ({@link WanUlyssesBlock}) and each
 * sp rank collates a contiguous slice of every sample's patch tokens ({@link WanPatchTokens} cut by
 * {@link SequenceShards}); the embedding and head run on the slice. With recompute every block (each
 * recorded Ulysses segment) drops its activations and recomputes them in backward; the embedding and
 * head keep theirs. Expert parallelism is refused: the DiT has no experts.
 */
final class WanParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null && mesh.dimNames().contains(MeshDims.EP) && mesh.dimSize(MeshDims.EP) > 1) {
            throw new IllegalArgumentException("the " + model.family() + " model has no experts to split: mesh dim "
                    + MeshDims.EP + " = " + mesh.dimSize(MeshDims.EP) + "; use data parallelism (dp_shard / "
                    + "dp_replicate) or Ulysses (sp)");
        }
        int sp = mesh == null ? 1 : mesh.sequenceParallelSize();
        WanConfig config = ((WanModel) model).config();
        if (sp > 1) {
            UlyssesAttention.checkHeads(config.numAttentionHeads(), sp);
        }
        Communicator group = sp > 1 ? mesh.group(MeshDims.SP) : null;
        List<Segment> segments = new ArrayList<>();
        Set<String> blocks = new HashSet<>();
        for (Segment s : model.trainingSegments()) {
            List<Segment> run = s instanceof WanBlockSegment b && group != null ? b.ulysses(group) : List.of(s);
            for (Segment r : run) {
                if (s instanceof WanBlockSegment && !(r instanceof ManualSegment)) {
                    blocks.add(r.name());
                }
            }
            segments.addAll(run);
        }
        Recompute policy = recompute ? Recompute.named(blocks) : Recompute.none();
        if (group == null) {
            return new Plan(segments, policy);
        }
        int rank = group.rank();
        return new Plan(segments, policy, rows -> new SequenceShards(new WanPatchTokens(rows, config), rank, sp,
                WanPatchTokens::split, s -> WanPatchTokens.tokens(s, config, sp)));
    }
}
