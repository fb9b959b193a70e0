package ai.omnispark.models.llm;

import ai.omnispark.models.hf.HfCheckpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.checkpoint.Checkpointer;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.optim.AdamW;
import ai.omnispark.parallel.param.HostCopy;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.runtime.ResidentMemory;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one big test of sizes: a model whose embedding unit has 2^28 + 4096 fp32 elements (1 GiB;
 * DJL's int-sized {@code create} overflowed building it from float64), trained state saved as a
 * checkpoint whose optimizer shard file is over 2 GiB (two moments of the unit), loaded back, then
 * exported as a HF folder and imported again. Values are checked against what was put in: the
 * float64 initialisation rounded to fp32 and moments given by a formula of the element index.
 *
 * <p>Lean on purpose (24 GiB CI machine, -Xmx6g): one rank, tied embeddings so the unit exists
 * once, the optimizer state installed directly rather than by a training step, everything compared
 * a part at a time; the test asserts the process's peak resident memory stays under 16 GiB.
 */
class LargeUnitCheckpointTest {
    private static final int VOCAB = (1 << 20) + 16;
    private static final int HIDDEN = 256;
    private static final long SEED = 3;
    private static final int PART = 1 << 22;

    /** Moments as a formula of the index: exact in fp32, distinct across parts, nothing a bug could fake. */
    private static float exp(long i) {
        return (i % 1009) * 0.001f - 0.5f;
    }

    private static float expSq(long i) {
        return (i % 997) * 1e-5f;
    }

    @Test
    void aUnitOverTwoToThe28ElementsSavesLoadsExportsAndImports(@TempDir Path dir) throws Exception {
        DecoderConfig config = DecoderConfig.builder().family("llama").vocabSize(VOCAB).hiddenSize(HIDDEN)
                .intermediateSize(64).numLayers(1).numHeads(2).numKvHeads(1).headDim(128).tieWordEmbeddings(true)
                .build();
        DecoderLM model = new DecoderLM(config);
        UnitLayout embed = model.units().get(0);
        assertTrue(embed.numel() > (1L << 28), "the embedding unit has " + embed.numel() + " elements");
        FileSystem fs = FileSystem.getLocal(new Configuration());
        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(dir.resolve("checkpoints").toUri());
        try (RankContext rank = RankContext.single(2)) {
            rank.bindThread();
            NDManager manager = rank.manager();
            try (LocalParams params = new LocalParams(manager, model.units(), DataType.FLOAT32, SEED)) {
                assertInitialWeights(params, model, "built");
                try (AdamW adamw = new AdamW(manager, new AdamW.Config(0.9, 0.95, 1e-8, 0.1))) {
                    installMoments(adamw, model, manager);
                    adamw.setStepCount(1);
                    try (Checkpointer ckpt = new Checkpointer(fs, root, 0, 1, x -> x, 0)) {
                        ckpt.save(1, RankState.capture(params, adamw), new ObjectMapper().createObjectNode(), null,
                                model.units(), false);
                    }
                }
                Path optimizerFile = dir.resolve("checkpoints/global_step_1/optimizer/shard-00000-of-00001.safetensors");
                assertTrue(Files.size(optimizerFile) > (1L << 31),
                        "the optimizer shard file is over 2 GiB: " + Files.size(optimizerFile));

                zero(params, model, manager);
                try (AdamW restored = new AdamW(manager, new AdamW.Config(0.9, 0.95, 1e-8, 0.1))) {
                    CheckpointReader reader = new CheckpointReader(fs, Checkpointer.resolve(fs, root, "auto"));
                    reader.read(model.units(), params::owned).applyTo(params, restored, manager);
                    assertEquals(1, restored.stepCount());
                    assertInitialWeights(params, model, "loaded");
                    assertMoments(restored, model);
                }

                Path hf = dir.resolve("hf");
                HfCheckpoint.export(model, params, manager, hf, SafeDType.F32);
                try (SafeTensorsReader file = SafeTensorsReader.open(hf.resolve(HfCheckpoint.WEIGHTS))) {
                    assertEquals(embed.numel() * 4, file.info("model.embed_tokens.weight").byteLength());
                }
                zero(params, model, manager);
                HfCheckpoint.load(model, params, manager, hf);
                assertInitialWeights(params, model, "imported");
            }
        }
        long peak = ResidentMemory.peakBytes();
        assertTrue(peak > 0, "no VmHWM in /proc/self/status");
        System.out.println("LargeUnitCheckpointTest: peak resident memory " + (peak >> 20) + " MiB");
        assertTrue(peak < 16L << 30, "peak resident memory " + (peak >> 20) + " MiB; the CI machine has 24 GiB");
    }

    /** Each unit's weights equal its float64 initialisation rounded to fp32, element by element. */
    private static void assertInitialWeights(LocalParams params, DecoderLM model, String when) {
        for (UnitLayout u : model.units()) {
            NDArray w = params.weights(u.name());
            float[] got = new float[PART];
            u.initialValues(SEED, PART, (offset, values, length) -> {
                HostCopy.read(w, offset, got, 0, length);
                for (int i = 0; i < length; i++) {
                    if (Float.floatToIntBits(values[i]) != Float.floatToIntBits(got[i])) {
                        throw new AssertionError(when + ": " + u.name() + "[" + (offset + i) + "] is " + got[i]
                                + ", expected " + values[i]);
                    }
                }
            });
        }
    }

    private static void installMoments(AdamW adamw, DecoderLM model, NDManager manager) {
        for (UnitLayout u : model.units()) {
            try (NDManager tmp = manager.newSubManager()) {
                NDArray m = tmp.zeros(new Shape(u.numel()), DataType.FLOAT32);
                NDArray v = tmp.zeros(new Shape(u.numel()), DataType.FLOAT32);
                float[] part = new float[PART];
                for (long done = 0; done < u.numel(); done += PART) {
                    int n = (int) Math.min(PART, u.numel() - done);
                    for (int i = 0; i < n; i++) {
                        part[i] = exp(done + i);
                    }
                    HostCopy.write(part, 0, n, m, done);
                    for (int i = 0; i < n; i++) {
                        part[i] = expSq(done + i);
                    }
                    HostCopy.write(part, 0, n, v, done);
                }
                adamw.setState(u.name(), m, v);
            }
        }
    }

    private static void assertMoments(AdamW adamw, DecoderLM model) {
        for (UnitLayout u : model.units()) {
            NDArray[] mv = adamw.state(u.name());
            float[] m = new float[PART];
            float[] v = new float[PART];
            for (long done = 0; done < u.numel(); done += PART) {
                int n = (int) Math.min(PART, u.numel() - done);
                HostCopy.read(mv[0], done, m, 0, n);
                HostCopy.read(mv[1], done, v, 0, n);
                for (int i = 0; i < n; i++) {
                    if (m[i] != exp(done + i) || v[i] != expSq(done + i)) {
                        throw new AssertionError(u.name() + " moments at " + (done + i) + " are (" + m[i] + ", " + v[i]
                                + "), expected (" + exp(done + i) + ", " + expSq(done + i) + ")");
                    }
                }
            }
        }
    }

    private static void zero(LocalParams params, DecoderLM model, NDManager manager) {
        for (UnitLayout u : model.units()) {
            try (NDManager tmp = manager.newSubManager()) {
                params.loadFullWeights(u.name(), tmp.zeros(new Shape(u.numel()), DataType.FLOAT32));
            }
            float[] first = new float[1];
            HostCopy.read(params.weights(u.name()), 0, first, 0, 1);
            assertEquals(0f, first[0], "zeroed before loading");
        }
    }
}
