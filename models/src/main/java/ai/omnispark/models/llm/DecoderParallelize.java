package ai.omnispark.models.llm;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.models.lora.LoraAdapters;
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
 * The decoder's plan: the training segments as they are (data parallel needs no segment of its
 * own); under Ulysses (mesh dim sp > 1) every attention segment becomes its five Ulysses segments
 * and each rank collates its slice of every row (docs/ulysses.md). With recompute, every attention
 * and MLP segment (and each recorded Ulysses segment) drops its activations; the embedding and the
 * head (whose chunked loss already bounds its memory) keep theirs.
 */
final class DecoderParallelize implements Parallelize {
    private static final String LORA_DROPOUT = LoraAdapters.dropoutMaskKey("");

    @Override
    public Plan apply(Model model, DeviceMesh mesh, boolean recompute) {
        if (mesh != null && mesh.dimNames().contains(MeshDims.EP) && mesh.dimSize(MeshDims.EP) > 1) {
            throw new IllegalArgumentException("the " + model.family() + " model has no experts to split: mesh dim "
                    + MeshDims.EP + " = " + mesh.dimSize(MeshDims.EP) + "; expert parallelism is for MoE models");
        }
        int sp = mesh == null ? 1 : mesh.sequenceParallelSize();
        Communicator group = sp > 1 ? mesh.group(MeshDims.SP) : null;
        List<Segment> segments = new ArrayList<>();
        Set<String> blocks = new HashSet<>();
        for (Segment s : model.trainingSegments()) {
            List<Segment> run = s instanceof AttentionSegment a && group != null ? a.ulysses(group) : List.of(s);
            for (Segment r : run) {
                if ((s instanceof AttentionSegment || s instanceof MlpSegment) && !(r instanceof ManualSegment)) {
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
        return new Plan(segments, policy, rows -> new SequenceShards(rows, rank, sp, DecoderParallelize::split));
    }

    /** How the sp ranks share the decoder's batch inputs: the token batch's, and the LoRA dropout masks by token. */
    private static SequenceShards.Split split(String key) {
        if (key.startsWith(LORA_DROPOUT)) {
            return SequenceShards.Split.tokens(1);
        }
        return SequenceShards.tokenBatch(key);
    }
}
