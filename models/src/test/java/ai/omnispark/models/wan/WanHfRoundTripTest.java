package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A diffusers export (config.json with _class_name, diffusion_pytorch_model.safetensors) loaded
 * back through {@link ModelFamilies} gives a wan model whose forward is bit-identical to the
 * exported one's, text- and image-to-video; and config.json round-trips every field.
 */
class WanHfRoundTripTest {
    private static RankContext rank;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        rank = RankContext.single(1);
        rank.bindThread();
    }

    @AfterAll
    static void stop() {
        rank.close();
    }

    @ParameterizedTest(name = "i2v={0}")
    @ValueSource(booleans = {false, true})
    void exportThenImportGivesBitIdenticalSamples(boolean i2v) throws Exception {
        Path hf = tmp.resolve("hf");
        try (WanModel model = TinyWan.model(i2v, "sdpa", DiffusionOptions.defaults());
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 4);
                NDManager scope = rank.manager().newSubManager()) {
            TinyWan.randomize(params, model.units(), 12);
            HfCheckpoint.export(model, params, rank.manager(), hf, SafeDType.F32);
            assertTrue(Files.exists(hf.resolve("diffusion_pytorch_model.safetensors")));
            assertFalse(Files.exists(hf.resolve("model.safetensors")));
            assertFalse(Files.exists(hf.resolve("generation_config.json")));
            JsonNode config = ModelFamilies.readConfig(hf.resolve("config.json"));
            assertEquals("WanTransformer3DModel", config.get("_class_name").asText());
            assertTrue(config.has("_diffusers_version"));
            try (Model loaded = ModelFamilies.load(hf, ModelOptions.defaults().withAttention("sdpa"));
                    LocalParams back = new LocalParams(rank.manager(), loaded.units(), DataType.FLOAT32, 99)) {
                assertEquals("wan", loaded.family());
                assertInstanceOf(WanModel.class, loaded);
                HfCheckpoint.load(loaded, back, rank.manager(), hf);
                WanConfig c = model.config();
                SplittableRandom random = new SplittableRandom(5);
                NDArray hidden = uniform(scope, random, 2, c.inChannels(), 2, 4, 4);
                NDArray text = uniform(scope, random, 2, 3, c.textDim());
                NDArray image = i2v ? uniform(scope, random, 2, 3, c.imageDim()) : null;
                NDArray t = scope.create(new float[] {250f, 999f});
                float[] before = new WanForward(model).sample(scope, params, DataType.FLOAT32, hidden, t, text, image)
                        .toFloatArray();
                float[] after = new WanForward(loaded).sample(scope, back, DataType.FLOAT32, hidden, t, text, image)
                        .toFloatArray();
                assertArrayEquals(before, after);
                assertEquals(2 * 4 * 2 * 4 * 4, after.length);
            }
        }
    }

    /**
     * diffusers' sharded layout (diffusion_pytorch_model-0000k-of-00002.safetensors + the .index.json
     * weight_map, as the real Wan 2.1 checkpoints ship) loads to the same weights as the single file.
     */
    @Test
    void aShardedFolderLoadsTheSameWeights() throws Exception {
        Path hf = tmp.resolve("single");
        Path sharded = tmp.resolve("sharded");
        Files.createDirectories(sharded);
        try (WanModel model = TinyWan.model(true, "sdpa", DiffusionOptions.defaults());
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 4);
                LocalParams back = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 77)) {
            TinyWan.randomize(params, model.units(), 13);
            HfCheckpoint.export(model, params, rank.manager(), hf, SafeDType.F32);
            Files.copy(hf.resolve("config.json"), sharded.resolve("config.json"));
            ObjectNode index = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
            ObjectNode map = index.putObject("weight_map");
            try (SafeTensorsReader reader = SafeTensorsReader.open(hf.resolve(WanModel.WEIGHTS))) {
                SafeTensorsWriter[] shards = {new SafeTensorsWriter(), new SafeTensorsWriter()};
                int i = 0;
                for (TensorInfo t : reader.tensors()) {
                    int k = i++ % 2;
                    shards[k].add(t.name(), t.dtype(), t.shape(), reader.read(t.name()));
                    map.put(t.name(), "diffusion_pytorch_model-0000" + (k + 1) + "-of-00002.safetensors");
                }
                for (int k = 0; k < 2; k++) {
                    shards[k].write(sharded.resolve("diffusion_pytorch_model-0000" + (k + 1) + "-of-00002.safetensors"));
                }
            }
            Files.writeString(sharded.resolve(WanModel.WEIGHTS + ".index.json"), index.toString());
            HfCheckpoint.load(model, back, rank.manager(), sharded);
            for (var u : model.units()) {
                assertArrayEquals(params.weights(u.name()).toFloatArray(), back.weights(u.name()).toFloatArray(), u.name());
            }
            map.put("blocks.0.attn1.to_q.weight", "../elsewhere.safetensors");
            Files.writeString(sharded.resolve(WanModel.WEIGHTS + ".index.json"), index.toString());
            String msg = assertThrows(java.io.IOException.class, () -> HfCheckpoint.load(model, back, rank.manager(),
                    sharded)).getMessage();
            assertTrue(msg.contains("elsewhere.safetensors"), msg);
        }
    }

    @Test
    void configJsonRoundTripsEveryField() {
        for (boolean i2v : new boolean[] {false, true}) {
            ObjectNode json = TinyWan.json(i2v);
            WanConfig c = WanConfigJson.parse(json);
            assertEquals(c, WanConfigJson.parse(WanConfigJson.toJson(c)));
            ObjectNode written = WanConfigJson.toJson(c);
            json.fieldNames().forEachRemaining(k -> assertTrue(written.has(k), "config.json lacks " + k));
            assertEquals(json.toString().length() > 0, true);
            assertEquals(i2v, c.isImageToVideo());
            assertEquals(16, c.dim());
        }
    }

    @Test
    void badConfigsNameTheKey() {
        ObjectNode json = TinyWan.json(false);
        json.put("pos_embed_seq_len", 514);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WanConfigJson.parse(json)).getMessage()
                .contains("pos_embed_seq_len"));
        ObjectNode half = TinyWan.json(false);
        half.put("image_dim", 6);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WanConfigJson.parse(half)).getMessage()
                .contains("added_kv_proj_dim"));
        ObjectNode patch = TinyWan.json(false);
        patch.putArray("patch_size").add(1).add(2);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> WanConfigJson.parse(patch)).getMessage()
                .contains("patch_size"));
    }

    private static NDArray uniform(NDManager scope, SplittableRandom random, long... shape) {
        float[] v = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (2 * random.nextDouble() - 1);
        }
        return scope.create(v, new Shape(shape));
    }
}
