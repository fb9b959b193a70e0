package ai.omnispark.models.moe;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.nn.ulysses.SequenceShards;
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
 * The MoE decoder's plan on a mesh: the training segments as they are on a data-parallel mesh;
 * under Ulysses (sp > 1) every attention segment becomes its five Ulysses segments, the router's
 * slot counts are summed over the sp group before the head ({@link SpRouterCounts}), and each rank
 * collates its slice of every row (docs/ulysses.md); with ep > 1 each sparse MLP becomes the five
 * segments of {@link ExpertParallelMlp} (route, dispatch all-to-all, local experts, combine
 * all-to-all, merge). With recompute, every recorded attention and MLP segment drops its
 * activations; the all-to-alls are manual and never re-run.
 */
final class MoeParallelize implements Parallelize {
    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        MoeConfig config = ((MoeLM) model).config();
        int sp = mesh == null ? 1 : mesh.sequenceParallelSize();
        Communicator spGroup = sp > 1 ? mesh.group(MeshDims.SP) : null;
        boolean expertParallel = mesh != null && mesh.dimNames().contains(MeshDims.EP) && mesh.dimSize(MeshDims.EP) > 1;
        Communicator epGroup = expertParallel ? mesh.group(MeshDims.EP) : null;
        List<Segment> segments = new ArrayList<>();
        Set<String> blocks = new HashSet<>();
        for (Segment s : model.trainingSegments()) {
            List<Segment> run = List.of(s);
            if (spGroup != null && s instanceof MoeAttention a) {
                run = a.ulysses(spGroup);
            } else if (epGroup != null && s instanceof MoeMlp mlp && config.sparse(mlp.layer())) {
                run = ExpertParallelMlp.segments(config, mlp.layer(), epGroup, ((MoeLM) model).routerMetrics());
            } else if (spGroup != null && config.auxLoss() && s instanceof MoeHead) {
                run = List.of(new SpRouterCounts(spGroup), s);
            }
            for (Segment r : run) {
                if ((s instanceof MoeAttention || s instanceof MoeMlp) && !(r instanceof ManualSegment)) {
                    blocks.add(r.name());
                }
            }
            segments.addAll(run);
        }
        Recompute policy = recompute ? Recompute.named(blocks) : Recompute.none();
        if (spGroup == null) {
            return new Plan(segments, policy);
        }
        int rank = spGroup.rank();
        return new Plan(segments, policy, rows -> new SequenceShards(rows, rank, sp, MoeParallelize::split));
    }

    /** How the sp ranks share the MoE batch inputs: the token batch's, the routed mask by token, the aux scale whole. */
    private static SequenceShards.Split split(String key) {
        return switch (key) {
            case MoeCollator.ROUTED_MASK -> SequenceShards.Split.flatTokens();
            case MoeCollator.AUX_SCALE -> SequenceShards.Split.whole();
            default -> SequenceShards.tokenBatch(key);
        };
    }
}
