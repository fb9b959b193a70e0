package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.api.Parallelize;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.mesh.DeviceMesh;
import ai.omnispark.parallel.mesh.MeshDims;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The plan on one rank: embed, every block, head; with recompute exactly the blocks drop their
 * activations. Under Ulysses every block is five segments; a mesh with expert-parallel ranks is
 * refused, naming the dim.
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
    void expertParallelMeshesAreRefused() {
        try (WanModel model = TinyWan.model(false, "eager", DiffusionOptions.defaults())) {
            DeviceMesh mesh = DeviceMesh.builder().dim(MeshDims.DP_SHARD, 2).dim(MeshDims.EP, 2).build(fake(1, 4));
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> model.parallelize().apply(model, mesh, false)).getMessage();
            assertTrue(msg.contains("mesh dim " + MeshDims.EP + " = 2") && msg.contains("no experts"), msg);
            DeviceMesh dp = DeviceMesh.builder().dim(MeshDims.DP_SHARD, 4).build(fake(2, 4));
            assertEquals(4, model.parallelize().apply(model, dp, true).segments().size());
        }
    }

    /**
     * Under Ulysses each block is five segments, the exchanges manual; recompute takes the three
     * recorded ones of every block. A ulysses size that does not divide the heads is refused.
     */
    @Test
    void ulyssesSplitsEveryBlockAndNeedsHeadsDivisibleBySp() {
        try (WanModel model = TinyWan.model(false, "eager", DiffusionOptions.defaults())) {
            DeviceMesh mesh = DeviceMesh.builder().dim(MeshDims.DP_SHARD, 2).dim(MeshDims.SP, 2).build(fake(3, 4));
            Parallelize.Plan plan = model.parallelize().apply(model, mesh, true);
            List<String> names = new ArrayList<>();
            List<String> recomputed = new ArrayList<>();
            for (int i = 0; i < plan.segments().size(); i++) {
                Segment s = plan.segments().get(i);
                names.add(s.name());
                if (plan.recompute().recompute(i, s)) {
                    recomputed.add(s.name());
                }
                assertEquals(s.name().endsWith(".heads") || s.name().endsWith(".tokens"), s instanceof ManualSegment,
                        s.name());
            }
            List<String> expected = new ArrayList<>(List.of("embed"));
            List<String> recorded = new ArrayList<>();
            for (String b : List.of("blocks.0", "blocks.1")) {
                for (String part : List.of("qkv", "heads", "core", "tokens", "out")) {
                    expected.add(b + "." + part);
                }
                recorded.addAll(List.of(b + ".qkv", b + ".core", b + ".out"));
            }
            expected.add("head");
            assertEquals(expected, names);
            assertEquals(recorded, recomputed);

            DeviceMesh sp4 = DeviceMesh.builder().dim(MeshDims.SP, 4).build(fake(1, 4));
            String msg = assertThrows(IllegalArgumentException.class,
                    () -> model.parallelize().apply(model, sp4, false)).getMessage();
            assertTrue(msg.contains("num_attention_heads (2)") && msg.contains("ulysses size (4)"), msg);
        }
    }

    /** A communicator that only knows its rank and size: enough to lay out a mesh's coordinates. */
    private static Communicator fake(int rank, int size) {
        return (Communicator) java.lang.reflect.Proxy.newProxyInstance(WanParallelizeTest.class.getClassLoader(),
                new Class<?>[] {Communicator.class},
                (p, m, a) -> switch (m.getName()) {
                    case "rank" -> rank;
                    case "size" -> size;
                    case "split" -> fake(java.util.Arrays.stream((int[]) a[0]).boxed().toList().indexOf(rank),
                            ((int[]) a[0]).length);
                    default -> null;
                });
    }
}
