package ai.omnispark.models.wan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The converted file used as the inference side uses it: each {@code diffusion_model.<module>.lora_A
 * /lora_B.weight} pair is applied, without any alpha, to the base weight {@code <module>.weight} of
 * the base model in the original naming (the diffusers base renamed by {@link WanLoraNames}), W + B·A
 * in float64. That must equal our merge of the unconverted adapter, {@link LoraAdapters#merged}
 * (W + alpha/r·B·A, float32) of the diffusers-named weight, within 1e-5, for every adapted linear.
 * (The same check through a forward of the whole model needs the Wan model itself.)
 */
class WanLoraConvertTest {
    @TempDir
    Path dir;

    @Test
    void theConvertedAdapterOnTheOriginalBaseEqualsOurMergedWeights() throws IOException {
        Map<String, PeftAdapter.Tensor> adapter = WanLoraExportTest.adapter(21);
        SplittableRandom random = new SplittableRandom(22);
        Map<String, PeftAdapter.Tensor> diffusersBase = new LinkedHashMap<>();
        for (Map.Entry<String, PeftAdapter.Tensor> t : adapter.entrySet()) {
            if (t.getKey().endsWith(".lora_A.weight")) {
                String module = t.getKey().substring(0, t.getKey().length() - ".lora_A.weight".length());
                long in = t.getValue().shape()[1];
                long out = adapter.get(module + ".lora_B.weight").shape()[0];
                float[] w = new float[(int) (in * out)];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) (random.nextDouble() - 0.5);
                }
                diffusersBase.put(module + ".weight", new PeftAdapter.Tensor(new long[] {out, in}, w));
            }
        }
        Map<String, PeftAdapter.Tensor> originalBase = new LinkedHashMap<>();
        diffusersBase.forEach((k, v) -> originalBase.put(WanLoraNames.toOriginal(k), v));

        Path finalLora = Files.createDirectories(dir.resolve("final_lora"));
        WanLoraExport.writePeft(WanLoraExportTest.config(), adapter, name -> Files.newOutputStream(finalLora.resolve(name)));
        WanLoraConvert.Result result = WanLoraConvert.convert(finalLora.resolve("adapter_model.safetensors"), null, null);
        assertEquals(WanLoraExportTest.ALPHA / WanLoraExportTest.RANK, result.scale().factor());

        double scale = WanLoraExportTest.ALPHA / WanLoraExportTest.RANK;
        Set<String> applied = new HashSet<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(result.output());
                NDManager manager = NDManager.newBaseManager()) {
            for (TensorInfo t : reader.tensors()) {
                if (!t.name().endsWith(".lora_A.weight")) {
                    continue;
                }
                String module = t.name().substring("diffusion_model.".length(),
                        t.name().length() - ".lora_A.weight".length());
                PeftAdapter.Tensor w = originalBase.get(module + ".weight");
                assertTrue(w != null, "the inference side finds no base weight " + module + ".weight for " + t.name());
                float[] a = reader.readFloats(t.name());
                float[] b = reader.readFloats("diffusion_model." + module + ".lora_B.weight");
                int out = (int) w.shape()[0];
                int in = (int) w.shape()[1];
                int r = (int) t.shape()[0];

                String diffusersModule = WanLoraNames.toDiffusers(module);
                PeftAdapter.Tensor ours = adapter.get(diffusersModule + ".lora_A.weight");
                PeftAdapter.Tensor oursB = adapter.get(diffusersModule + ".lora_B.weight");
                NDArray merged = LoraAdapters.merged(
                        manager.create(diffusersBase.get(diffusersModule + ".weight").values(), new Shape(out, in)),
                        manager.create(ours.values(), new Shape(r, in)),
                        manager.create(oursB.values(), new Shape(out, r)), scale);
                float[] expected = merged.toFloatArray();
                for (int o = 0; o < out; o++) {
                    for (int i = 0; i < in; i++) {
                        double inference = w.values()[o * in + i];
                        for (int k = 0; k < r; k++) {
                            inference += (double) b[o * r + k] * a[k * in + i];
                        }
                        assertEquals(expected[o * in + i], inference, 1e-5, module + "[" + o + ", " + i + "]");
                    }
                }
                applied.add(diffusersModule + ".weight");
            }
        }
        assertEquals(diffusersBase.keySet(), applied, "every adapted linear is applied on the inference side");
    }
}
