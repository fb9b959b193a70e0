package ai.omnispark.parallel.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.fsdp.SilentShardGroup;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.Init;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint of a model with a frozen unit: its weights are saved and come back, it has no
 * optimizer tensors, and 2 FSDP ranks reshard onto 1 rank with every slice exact.
 */
class FrozenUnitCheckpointTest {
    private static final List<UnitLayout> UNITS = List.of(
            new UnitLayout("embed", List.of(ParamSpec.of("embed.weight", Init.normal(0.02), 7, 5))),
            new UnitLayout("base", List.of(new ParamSpec("base.w", new Shape(5, 5), Init.normal(0.02), true, false),
                    new ParamSpec("base.norm", new Shape(5), Init.ones(), false, false))),
            new UnitLayout("base.lora", List.of(ParamSpec.of("base.lora.a", Init.normal(0.1), 2, 5))));
    private static final int FROZEN = 1;
    private static final long STEPS = 4;

    @TempDir
    java.nio.file.Path tmp;

    /** Every unit's whole weights and (for trainable units) moments, random. */
    private static float[][][] truth() {
        Random r = new Random(3);
        float[][][] t = new float[3][UNITS.size()][];
        for (int u = 0; u < UNITS.size(); u++) {
            for (int k = 0; k < 3; k++) {
                t[k][u] = new float[(int) UNITS.get(u).numel()];
                for (int i = 0; i < t[k][u].length; i++) {
                    t[k][u][i] = k == 2 ? r.nextFloat() : (float) r.nextGaussian();
                }
            }
        }
        return t;
    }

    private static float[] padded(float[] full, OwnedSlice o) {
        return Arrays.copyOf(Arrays.copyOfRange(full, (int) o.begin(), (int) o.end()), (int) o.localLength());
    }

    @Test
    void twoShardedRanksSaveAFrozenUnitAndOneRankLoadsIt() throws Exception {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        Path root = new Path(tmp.toUri().toString(), "checkpoints");
        float[][][] t = truth();
        int world = 2;
        ThreadSum sum = new ThreadSum(world);
        ExecutorService pool = Executors.newFixedThreadPool(world);
        try {
            List<Future<String>> ranks = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                ranks.add(pool.submit(() -> {
                    try (NDManager manager = NDManager.newBaseManager();
                            ParamStore store = ParamStores.build(manager, UNITS, DataType.FLOAT32, 1,
                                    new SilentShardGroup(rank, world), true);
                            AdamW adamw = new AdamW(manager, new AdamW.Config(0.9, 0.95, 1e-8, 0.01));
                            Checkpointer ckpt = new Checkpointer(fs, root, rank, world, sum.forRank(rank), 0)) {
                        for (int u = 0; u < UNITS.size(); u++) {
                            String name = UNITS.get(u).name();
                            OwnedSlice o = store.owned(name);
                            store.loadOwnedWeights(name, Arrays.copyOfRange(t[0][u], (int) o.begin(), (int) o.end()));
                            if (u != FROZEN) {
                                adamw.setState(name, manager.create(padded(t[1][u], o)),
                                        manager.create(padded(t[2][u], o)));
                            }
                        }
                        adamw.setStepCount(STEPS);
                        RankState state = RankState.capture(store, adamw);
                        assertFalse(state.optimizer().keySet().stream().anyMatch(k -> k.startsWith("base.exp")),
                                state.optimizer().keySet().toString());
                        ckpt.save(STEPS, state, new ObjectMapper().createObjectNode(), null, UNITS, false);
                        return "saved";
                    }
                }));
            }
            for (Future<String> f : ranks) {
                assertEquals("saved", f.get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        Path dir = CheckpointPaths.step(root, STEPS);
        CheckpointVerifier.verify(fs, dir);
        JsonNode optIndex = json(fs, new Path(new Path(dir, CheckpointPaths.OPTIMIZER), CheckpointPaths.INDEX));
        List<String> keys = new ArrayList<>();
        optIndex.path("tensors").fieldNames().forEachRemaining(keys::add);
        keys.sort(String::compareTo);
        assertEquals(List.of("base.lora.exp_avg", "base.lora.exp_avg_sq", "embed.exp_avg", "embed.exp_avg_sq"), keys,
                "optimizer tensors of the trainable units only");
        JsonNode modelIndex = json(fs, new Path(new Path(dir, CheckpointPaths.MODEL), CheckpointPaths.INDEX));
        assertTrue(modelIndex.path("tensors").has("base"), "the frozen unit's weights are saved");

        try (NDManager manager = NDManager.newBaseManager();
                ParamStore store = ParamStores.build(manager, UNITS, DataType.FLOAT32, 99, null, true);
                AdamW adamw = new AdamW(manager, new AdamW.Config(0.9, 0.95, 1e-8, 0.01))) {
            new CheckpointReader(fs, dir).read(UNITS, store::owned).applyTo(store, adamw, manager);
            assertEquals(STEPS, adamw.stepCount());
            for (int u = 0; u < UNITS.size(); u++) {
                String name = UNITS.get(u).name();
                assertArrayEquals(t[0][u], store.ownedWeights(name), name + " weights");
                if (u == FROZEN) {
                    assertNull(adamw.state(name), "no optimizer state for the frozen unit");
                } else {
                    assertArrayEquals(t[1][u], adamw.state(name)[0].toFloatArray(), name + " exp_avg");
                    assertArrayEquals(t[2][u], adamw.state(name)[1].toFloatArray(), name + " exp_avg_sq");
                }
            }
        }
    }

    private static JsonNode json(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new ObjectMapper().readTree(in);
        }
    }
}
