package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The plan on one rank: embed, every block, head; with recompute exactly the blocks drop their
 * activations. A mesh with Ulysses or expert-parallel ranks is refused, naming the dim.
 */
class WanParallelizeTest {
    @Test
    void recomputeTakesEveryBlockAndNothingElse() {
        try (WanModel model = TinyWan.model(true, "eager", DiffusionOptions.defaults())) {
            for (boolean recompute : new boolean[] {false, true}) {
                Parallelize.Plan plan = model.parallelize().apply(model, null, recompute);
                List<String> names = new ArrayList<>();
                List<String> recomputed = new ArrayList<>();
                for (int i = 0; i < plan.segments().size(); i++) {
                    Segment s = plan.segments().get(i);
                    names.add(s.name());
                    if (plan.recompute().recompute(i, s)) {
                        recomputed.add(s.name());
                    }
                }
                assertEquals(List.of("embed", "blocks.0", "blocks.1", "head"), names);
                assertEquals(recompute ? List.of("blocks.0", "blocks.1") : List.of(), recomputed);
            }
        }
    }

    @Test
    void sequenceAndExpertParallelMeshesAreRefused() {
        try (WanModel model = TinyWan.model(false, "eager", DiffusionOptions.defaults())) {
            for (String dim : List.of(MeshDims.SP, MeshDims.EP)) {
                DeviceMesh mesh = DeviceMesh.builder().dim(MeshDims.DP_SHARD, 2).dim(dim, 2).build(fake(1, 4));
                String msg = assertThrows(IllegalArgumentException.class,
                        () -> model.parallelize().apply(model, mesh, false)).getMessage();
                assertTrue(msg.contains("mesh dim " + dim + " = 2") && msg.contains("data parallelism"), msg);
            }
            DeviceMesh dp = DeviceMesh.builder().dim(MeshDims.DP_SHARD, 4).build(fake(2, 4));
            assertEquals(4, model.parallelize().apply(model, dp, true).segments().size());
        }
    }

    /** A communicator that only knows its rank and size: enough to lay out a mesh's coordinates. */
    private static Communicator fake(int rank, int size) {
        return (Communicator) java.lang.reflect.Proxy.newProxyInstance(WanParallelizeTest.class.getClassLoader(),
                new Class<?>[] {Communicator.class},
                (p, m, a) -> m.getName().equals("rank") ? rank : m.getName().equals("size") ? size : null);
    }
}
