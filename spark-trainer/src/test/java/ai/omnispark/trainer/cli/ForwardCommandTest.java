package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/omnispark forward} on a tiny diffusers export: the written {@code sample} has the
 * shape [B, out, F, H, W] and equals, bit for bit, {@link WanForward} run in process on the same
 * weights and inputs (timestep given as I64, as diffusers pipelines pass it); inputs that are not
 * forward arguments, or lack one, are named in the error.
 */
class ForwardCommandTest {
    private static final String CONFIG = """
            {"_class_name":"WanTransformer3DModel","_diffusers_version":"0.33.1","patch_size":[1,2,2],
             "num_attention_heads":2,"attention_head_dim":8,"in_channels":4,"out_channels":4,"text_dim":6,
             "freq_dim":8,"ffn_dim":32,"num_layers":2,"cross_attn_norm":true,"qk_norm":"rms_norm_across_heads",
             "eps":1e-6,"image_dim":null,"added_kv_proj_dim":null,"rope_max_seq_len":1024,"pos_embed_seq_len":null}""";

    @TempDir
    Path tmp;

    @Test
    void writesTheSampleOfOneForward() throws Exception {
        Path hf = tmp.resolve("hf");
        SplittableRandom random = new SplittableRandom(3);
        float[] hidden = uniform(random, 2 * 4 * 2 * 4 * 4);
        float[] text = uniform(random, 2 * 5 * 6);
        long[] steps = {999, 250};
        float[] expected;
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly a = RankAssembly.of(ModelFamilies.build(new ObjectMapper().readTree(CONFIG),
                    ModelOptions.defaults()), rank.manager(), DataType.FLOAT32, 7, null, false);
                    NDManager scope = rank.manager().newSubManager()) {
                HfCheckpoint.export(a.model(), a.params(), rank.manager(), hf, SafeDType.F32);
                NDArray sample = new WanForward(a.model()).sample(scope, a.params(), DataType.FLOAT32,
                        scope.create(hidden, new Shape(2, 4, 2, 4, 4)), scope.create(new float[] {999, 250}),
                        scope.create(text, new Shape(2, 5, 6)), null);
                expected = sample.toFloatArray();
            }
        }
        Path in = tmp.resolve("in.safetensors");
        ByteBuffer t = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        t.putLong(steps[0]).putLong(steps[1]).flip();
        new SafeTensorsWriter().add("hidden_states", SafeDType.F32, new long[] {2, 4, 2, 4, 4}, floats(hidden))
                .add("timestep", SafeDType.I64, new long[] {2}, t)
                .add("encoder_hidden_states", SafeDType.F32, new long[] {2, 5, 6}, floats(text)).write(in);
        Path out = tmp.resolve("out.safetensors");
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"forward", "--model", hf.toString(), "--input", in.toString(), "--out",
            out.toString(), "--threads", "1"}, new PrintStream(printed));
        assertEquals(0, code, printed.toString());
        assertTrue(printed.toString().contains("[2, 4, 2, 4, 4]"), printed.toString());
        try (SafeTensorsReader reader = SafeTensorsReader.open(out)) {
            assertArrayEquals(new long[] {2, 4, 2, 4, 4}, reader.info("sample").shape());
            assertArrayEquals(expected, reader.readFloats("sample"));
        }

        Path odd = tmp.resolve("odd.safetensors");
        new SafeTensorsWriter().add("hidden_states", SafeDType.F32, new long[] {2, 4, 2, 4, 4}, floats(hidden))
                .add("latents", SafeDType.F32, new long[] {2, 4, 2, 4, 4}, floats(hidden)).write(odd);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, MainAccess.run(new String[] {"forward", "--model", hf.toString(), "--input", odd.toString(),
            "--out", out.toString()}, new PrintStream(err)), err.toString());
        assertTrue(err.toString().contains("'latents'"), err.toString());
        Path missing = tmp.resolve("missing.safetensors");
        new SafeTensorsWriter().add("hidden_states", SafeDType.F32, new long[] {2, 4, 2, 4, 4}, floats(hidden))
                .write(missing);
        err.reset();
        assertEquals(2, MainAccess.run(new String[] {"forward", "--model", hf.toString(), "--input", missing.toString(),
            "--out", out.toString()}, new PrintStream(err)), err.toString());
        assertTrue(err.toString().contains("no 'timestep'"), err.toString());
    }

    private static float[] uniform(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (2 * random.nextDouble() - 1);
        }
        return v;
    }

    private static ByteBuffer floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }
}
