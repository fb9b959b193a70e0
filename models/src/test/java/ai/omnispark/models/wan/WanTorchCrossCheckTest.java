package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.DiffusionOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.testing.TorchPeer;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The family against a PyTorch forward written by hand from diffusers' WanTransformer3DModel
 * (src/test/resources/wan/diffusers_reference.py: Conv3d patch embedding, WanRotaryPosEmbed with
 * interleaved pairs, the condition embedder, RMSNorm-across-heads attention, the I2V image branch,
 * unpatchify), both in float64 on the weights of an F32 diffusers export and the same random
 * inputs: every element of `sample` within 1e-10. Needs Debian's /usr/bin/python3 with
 * python3-torch; skipped without it.
 */
class WanTorchCrossCheckTest {
    private static final ObjectMapper JSON = new ObjectMapper();
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
    void sampleMatchesDiffusersSemantics(boolean i2v) throws Exception {
        TorchPeer.assume();
        Path hf = tmp.resolve("hf");
        try (WanModel model = TinyWan.model(i2v, "sdpa", DiffusionOptions.defaults());
                LocalParams f32 = new LocalParams(rank.manager(), model.units(), DataType.FLOAT32, 23);
                LocalParams params = new LocalParams(rank.manager(), model.units(), DataType.FLOAT64, 1);
                NDManager scope = rank.manager().newSubManager()) {
            TinyWan.randomize(f32, model.units(), 31);
            HfCheckpoint.export(model, f32, rank.manager(), hf, SafeDType.F32);
            HfCheckpoint.load(model, params, rank.manager(), hf);
            WanConfig c = model.config();
            SplittableRandom random = new SplittableRandom(i2v ? 7 : 8);
            ObjectNode in = JSON.createObjectNode();
            NDArray hidden = input(scope, in, "hidden_states", random, 2, c.inChannels(), 2, 4, 4);
            NDArray text = input(scope, in, "encoder_hidden_states", random, 2, 3, c.textDim());
            NDArray image = i2v ? input(scope, in, "encoder_hidden_states_image", random, 2, 3, c.imageDim()) : null;
            double[] ts = {37.5, 912.25};
            ObjectNode t = in.putObject("timestep");
            t.putArray("shape").add(2);
            t.putArray("data").add(ts[0]).add(ts[1]);
            NDArray timestep = scope.create(ts);
            double[] ours = new WanForward(model).sample(scope, params, DataType.FLOAT64, hidden, timestep, text, image)
                    .toDoubleArray();

            Path inputs = tmp.resolve("inputs.json");
            JSON.writeValue(inputs.toFile(), in);
            Path out = tmp.resolve("torch.json");
            TorchPeer.run("/wan/diffusers_reference.py", tmp, 300, hf.toString(), inputs.toString(), out.toString());
            JsonNode torch = JSON.readTree(out.toFile());
            assertEquals("[2,4,2,4,4]", torch.get("shape").toString());
            JsonNode want = torch.get("sample");
            assertEquals(want.size(), ours.length);
            double worst = 0;
            double largest = 0;
            for (int i = 0; i < ours.length; i++) {
                worst = Math.max(worst, Math.abs(want.get(i).asDouble() - ours[i]));
                largest = Math.max(largest, Math.abs(ours[i]));
                assertEquals(want.get(i).asDouble(), ours[i], 1e-10, "sample element " + i);
            }
            System.out.printf("wan i2v=%s vs the PyTorch reference: sample within %.2e (largest |sample| %.3f)%n", i2v,
                    worst, largest);
        }
    }

    private static NDArray input(NDManager scope, ObjectNode in, String key, SplittableRandom random, long... shape) {
        double[] values = new double[(int) new Shape(shape).size()];
        ObjectNode node = in.putObject(key);
        ArrayNode s = node.putArray("shape");
        for (long d : shape) {
            s.add(d);
        }
        ArrayNode data = node.putArray("data");
        for (int i = 0; i < values.length; i++) {
            values[i] = 2 * random.nextDouble() - 1;
            data.add(values[i]);
        }
        return scope.create(values, new Shape(shape));
    }
}
