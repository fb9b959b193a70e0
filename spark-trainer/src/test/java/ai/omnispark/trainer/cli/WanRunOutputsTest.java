package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.models.wan.WanLoraNames;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.parallel.safetensors.TensorBytes;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.job.LocalLauncher;
import ai.omnispark.trainer.job.RankAssembly;
import ai.omnispark.trainer.job.TrainSummary;
import ai.omnispark.trainer.loop.StepResult;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a Wan run leaves, end to end through the real job ({@link LocalLauncher}: 2 in-process ranks,
 * FSDP) on latent shards prepared from {@code bin/omnispark sample}'s videos
 * ({@code prepare-video-latent.yaml}, 4 latent channels, 16-wide text embeddings of 8 tokens), with
 * noise, gaussian timestep weights and text dropout 0.5 on:
 * <ul>
 *   <li>a LoRA run's {@code hf_ckpt/} is the adapter in the original Wan naming with {@code .default.}
 *   (+ an adapter config.json), {@code final_lora/} the PEFT diffusers form, {@code final_hf/} the
 *   merged model as a diffusers folder, none with tokenizer files; {@code convert-lora} turns
 *   hf_ckpt's file into the inference side's, and that file applied to the base as the inference side
 *   does (base renamed to the original names, W + B·A in float64, renamed back) gives the same DiT
 *   output ({@link WanForward}) as our merged model and as our model with the adapters applied,
 *   within {@value #TOLERANCE};</li>
 *   <li>a full fine-tune's hf_ckpt/ and final_hf/ are diffusers folders, {@code export-hf} of its
 *   checkpoint gives the same tensors, and a run stopped at step 3 and resumed from its checkpoint
 *   repeats the uninterrupted run's losses and grad norms bit for bit;</li>
 *   <li>a LoRA run stopped at step 2 and resumed gives the uninterrupted run's losses and adapters
 *   (final_lora/, hf_ckpt/) bit for bit.</li>
 * </ul>
 */
class WanRunOutputsTest {
    static final double TOLERANCE = 1e-5;
    static final String WEIGHTS = "diffusion_pytorch_model.safetensors";
    static final List<String> MODULES = List.of("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2");
    /** hf_ckpt's keys: original names with PEFT's adapter name. */
    static final Pattern HF_CKPT_KEY = Pattern.compile(
            "blocks\\.[01]\\.((self_attn|cross_attn)\\.[qkvo]|ffn\\.[02])\\.lora_[AB]\\.default\\.weight");
    static final Pattern CONVERTED_KEY = Pattern.compile(
            "diffusion_model\\.blocks\\.[01]\\.((self_attn|cross_attn)\\.[qkvo]|ffn\\.[02])\\.lora_[AB]\\.weight");

    @TempDir
    static Path dir;

    static Path latents;
    static Path model;

    @BeforeAll
    static void prepareLatents() throws Exception {
        Path sample = dir.resolve("sample");
        MainCliTest.Run s = MainCliTest.main("sample", "--out", sample.toString(), "--documents", "1", "--media", "4");
        assertEquals(0, s.code(), s.err());
        latents = dir.resolve("latents");
        MainCliTest.Run p = MainCliTest.main("prepare",
                MainCliTest.EXAMPLES.resolve("prepare-video-latent.yaml").toString(),
                "--set", "data.train_path=" + sample.resolve("video_text.jsonl"),
                "--set", "data.output_path=" + latents,
                "--set", "data.latent_channels=4", "--set", "data.text_embed_dim=16", "--set", "data.text_embed_len=8");
        assertEquals(0, p.code(), p.out() + p.err());
        assertEquals(4, p.lastJson().get("rows").asLong(), p.out());
        model = dir.resolve("tiny-wan.json");
        Files.writeString(model, """
                {"_class_name":"WanTransformer3DModel","_diffusers_version":"0.33.1","patch_size":[1,2,2],
                 "num_attention_heads":2,"attention_head_dim":16,"in_channels":4,"out_channels":4,"text_dim":16,
                 "freq_dim":32,"ffn_dim":64,"num_layers":2,"cross_attn_norm":true,"qk_norm":"rms_norm_across_heads",
                 "eps":1e-6,"image_dim":null,"added_kv_proj_dim":null,"rope_max_seq_len":1024,
                 "pos_embed_seq_len":null}""");
    }

    static Settings settings(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of("model.config_path=" + model, "data.train_path=" + latents,
                "train.output_dir=" + dir.resolve(out), "train.global_batch_size=4", "train.micro_batch_size=1",
                "train.threads=1", "train.comm_timeout_s=60", "train.world_size=2", "train.data_parallel_mode=fsdp",
                "train.flow_shift=3.0", "train.timestep_weighting=gaussian", "train.text_dropout=0.5",
                "train.max_grad_norm=1.0", "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    record Run(Map<Long, StepResult> steps, TrainSummary summary, String log) {}

    static Run train(Settings s) throws Exception {
        Map<Long, StepResult> steps = Collections.synchronizedMap(new TreeMap<>());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        TrainSummary summary = LocalLauncher.run(s, (r, total) -> steps.put(r.step(), r),
                new PrintStream(log, true, StandardCharsets.UTF_8), 0);
        return new Run(new TreeMap<>(steps), summary, log.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aLoraRunsAdapterConvertsAndAppliesAsOurMergedModelDoes() throws Exception {
        Run run = train(lora("lora", "train.max_steps=4"));
        assertEquals(4, run.steps().size(), run.log());
        Path out = dir.resolve("lora");
        Path hfCkpt = out.resolve("checkpoints/global_step_4/hf_ckpt");
        Path finalLora = out.resolve("final_lora");
        Path finalHf = out.resolve("final_hf");
        assertEquals(Set.of(WEIGHTS, "config.json"), files(hfCkpt));
        assertEquals(Set.of(PeftAdapter.WEIGHTS, PeftAdapter.CONFIG), files(finalLora));
        assertEquals(Set.of(WEIGHTS, "config.json"), files(finalHf), "a diffusers folder, no tokenizer");
        assertEquals(finalLora.toString(), Path.of(run.summary().adapterDir().replaceFirst("^file:", "")).toString());

        // hf_ckpt: original names with .default., the same values as final_lora's diffusers names.
        Map<String, float[]> ckpt = tensors(hfCkpt.resolve(WEIGHTS));
        Map<String, float[]> peft = tensors(finalLora.resolve(PeftAdapter.WEIGHTS));
        assertEquals(2 * 10 * 2, ckpt.size(), ckpt.keySet().toString()); // 2 blocks x 10 linears x (A, B)
        for (Map.Entry<String, float[]> t : peft.entrySet()) {
            String diffusers = t.getKey().substring(PeftAdapter.KEY_PREFIX.length());
            String linear = diffusers.substring(0, diffusers.lastIndexOf(".lora_"));
            String original = WanLoraNames.toOriginal(linear + ".weight");
            String key = original.substring(0, original.length() - ".weight".length())
                    + diffusers.substring(diffusers.lastIndexOf(".lora_")).replace(".weight", ".default.weight");
            assertTrue(HF_CKPT_KEY.matcher(key).matches(), key);
            assertArrayEquals(t.getValue(), ckpt.get(key), 0f, key);
        }
        JsonNode adapterConfig = MainCliTest.JSON.readTree(hfCkpt.resolve("config.json").toFile());
        assertEquals("LORA", adapterConfig.get("peft_type").asText());
        assertEquals("wan-original", adapterConfig.get("naming").asText());
        assertEquals(4, adapterConfig.get("r").asInt());
        assertEquals("WanTransformer3DModel",
                MainCliTest.JSON.readTree(finalHf.resolve("config.json").toFile()).get("_class_name").asText());
        double maxB = peft.entrySet().stream().filter(e -> e.getKey().endsWith("lora_B.weight"))
                .flatMapToDouble(e -> java.util.stream.IntStream.range(0, e.getValue().length)
                        .mapToDouble(i -> Math.abs(e.getValue()[i]))).max().orElse(0);
        assertTrue(maxB > 1e-3, "training moved B off zero: max |B| " + maxB);

        // convert-lora, as the inference side gets it.
        MainCliTest.Run converted = MainCliTest.main("convert-lora", hfCkpt.resolve(WEIGHTS).toString());
        assertEquals(0, converted.code(), converted.err());
        Path styleB = Path.of(converted.out().strip());
        assertEquals(hfCkpt.resolve("diffusion_pytorch_model_styleB.safetensors"), styleB);
        Map<String, float[]> inference = tensors(styleB);
        assertEquals(ckpt.size(), inference.size());
        inference.keySet().forEach(k -> assertTrue(CONVERTED_KEY.matcher(k).matches(), k));
        // The article's rule per key: prefix diffusion_model., drop .default.; B carries alpha/r = 8/4 (exact in F32).
        for (Map.Entry<String, float[]> t : ckpt.entrySet()) {
            String key = "diffusion_model." + t.getKey().replace(".default.", ".");
            float[] v = inference.get(key);
            assertNotNull(v, key);
            float scale = key.endsWith(".lora_B.weight") ? 2f : 1f;
            for (int i = 0; i < v.length; i++) {
                assertEquals(t.getValue()[i] * scale, v[i], 0f, key + "[" + i + "]");
            }
        }

        // export-hf: the base unmerged (+ the PEFT diffusers adapter), and merged (= final_hf).
        Path ckptDir = out.resolve("checkpoints/global_step_4");
        Path base = dir.resolve("lora-base");
        MainCliTest.Run unmerged = MainCliTest.main("export-hf", "--checkpoint", ckptDir.toString(), "--out",
                base.toString());
        assertEquals(0, unmerged.code(), unmerged.out() + unmerged.err());
        assertEquals(Set.of(WEIGHTS, "config.json", PeftAdapter.WEIGHTS, PeftAdapter.CONFIG), files(base));
        Map<String, float[]> exportedAdapter = tensors(base.resolve(PeftAdapter.WEIGHTS));
        assertEquals(peft.keySet(), exportedAdapter.keySet());
        peft.forEach((k, v) -> assertArrayEquals(v, exportedAdapter.get(k), 0f, k));
        Path merged = dir.resolve("lora-merged");
        MainCliTest.Run mergedRun = MainCliTest.main("export-hf", "--checkpoint", ckptDir.toString(), "--out",
                merged.toString(), "--merge-lora");
        assertEquals(0, mergedRun.code(), mergedRun.out() + mergedRun.err());
        assertEquals(Set.of(WEIGHTS, "config.json"), files(merged));
        Map<String, float[]> finalWeights = tensors(finalHf.resolve(WEIGHTS));
        Map<String, float[]> mergedWeights = tensors(merged.resolve(WEIGHTS));
        assertEquals(finalWeights.keySet(), mergedWeights.keySet());
        finalWeights.forEach((k, v) -> assertArrayEquals(v, mergedWeights.get(k), 0f, "export-hf --merge-lora " + k));

        // The inference side: the base in original names, + B·A of the converted file (float64), renamed back.
        Map<String, float[]> baseWeights = tensors(base.resolve(WEIGHTS));
        Map<String, long[]> shapes = shapes(base.resolve(WEIGHTS));
        Map<String, double[]> original = new LinkedHashMap<>();
        baseWeights.forEach((k, v) -> {
            double[] d = new double[v.length];
            for (int i = 0; i < v.length; i++) {
                d[i] = v[i];
            }
            original.put(WanLoraNames.toOriginal(k), d);
        });
        Set<String> applied = new TreeSet<>();
        for (String key : inference.keySet()) {
            if (!key.endsWith(".lora_A.weight")) {
                continue;
            }
            String module = key.substring("diffusion_model.".length(), key.length() - ".lora_A.weight".length());
            double[] w = original.get(module + ".weight");
            assertNotNull(w, "the inference side finds no base weight " + module + ".weight for " + key);
            float[] a = inference.get(key);
            float[] b = inference.get("diffusion_model." + module + ".lora_B.weight");
            int r = 4;
            int in = a.length / r;
            int outDim = b.length / r;
            assertEquals((long) outDim * in, w.length, module);
            for (int o = 0; o < outDim; o++) {
                for (int i = 0; i < in; i++) {
                    double sum = 0;
                    for (int k = 0; k < r; k++) {
                        sum += (double) b[o * r + k] * a[k * in + i];
                    }
                    w[o * in + i] += sum;
                }
            }
            applied.add(module);
        }
        assertEquals(2 * 10, applied.size(), "every adapted linear of both blocks: " + applied);
        Path inferenceSide = Files.createDirectories(dir.resolve("inference-side"));
        SafeTensorsWriter writer = new SafeTensorsWriter().metadata(Map.of("format", "pt"));
        original.forEach((k, v) -> {
            float[] f = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                f[i] = (float) v[i];
            }
            String diffusers = WanLoraNames.toDiffusers(k);
            writer.add(diffusers, SafeDType.F32, shapes.get(diffusers), TensorBytes.ofFloats(f));
        });
        writer.write(inferenceSide.resolve(WEIGHTS));
        Files.copy(finalHf.resolve("config.json"), inferenceSide.resolve("config.json"));

        float[] theirs = forward(inferenceSide, null);
        float[] oursMerged = forward(finalHf, null);
        float[] oursApplied = forward(base, base);
        float[] baseOnly = forward(base, null);
        double vsMerged = maxDiff(theirs, oursMerged);
        double vsApplied = maxDiff(theirs, oursApplied);
        double adapterEffect = maxDiff(theirs, baseOnly);
        System.out.printf("wan LoRA through convert-lora: inference side vs merged %.2e, vs adapters applied %.2e; "
                + "the adapter moves the output by %.2e%n", vsMerged, vsApplied, adapterEffect);
        assertTrue(vsMerged <= TOLERANCE, "inference side vs our merged model: " + vsMerged);
        assertTrue(vsApplied <= TOLERANCE, "inference side vs our model with its adapters: " + vsApplied);
        assertTrue(adapterEffect > 100 * TOLERANCE, "the adapter must change the output for the check to mean "
                + "anything: " + adapterEffect);
    }

    @Test
    void aLoraRunResumesBitIdentically() throws Exception {
        Run straight = train(lora("lora-straight", "train.max_steps=4"));
        train(lora("lora-cut", "train.max_steps=2"));
        Run rest = train(lora("lora-cut", "train.max_steps=4", "train.load_checkpoint_path=auto"));
        assertTrue(rest.log().contains(" at step 2"), rest.log());
        for (long step : List.of(3L, 4L)) {
            assertEquals(straight.steps().get(step).loss(), rest.steps().get(step).loss(), 0, "loss of step " + step);
        }
        for (String folder : List.of("final_lora/" + PeftAdapter.WEIGHTS,
                "checkpoints/global_step_4/hf_ckpt/" + WEIGHTS)) {
            Map<String, float[]> a = tensors(dir.resolve("lora-straight").resolve(folder));
            Map<String, float[]> b = tensors(dir.resolve("lora-cut").resolve(folder));
            assertEquals(a.keySet(), b.keySet());
            a.forEach((k, v) -> assertArrayEquals(v, b.get(k), 0f, "resumed " + folder + " " + k));
        }
    }

    /** A LoRA run on every adaptable linear of both blocks: rank 4, alpha 8, a checkpoint every 2 steps. */
    static Settings lora(String out, String... sets) {
        List<String> all = new ArrayList<>(List.of("model.lora_config.rank=4", "model.lora_config.alpha=8",
                "model.lora_config.lora_modules=" + String.join(",", MODULES), "train.lr=1e-2", "train.save_steps=2"));
        all.addAll(List.of(sets));
        return settings(out, all.toArray(String[]::new));
    }

    @Test
    void aFullRunWritesDiffusersFoldersAndResumesBitIdentically() throws Exception {
        Run straight = train(settings("full", "train.lr=2e-3", "train.max_steps=6", "train.save_steps=3"));
        assertEquals(6, straight.steps().size(), straight.log());
        assertTrue(straight.log().contains("flow shift 3.0, timestep weighting gaussian, text dropout 0.5"),
                "the job's diffusion settings reach the model: " + straight.log());
        Path out = dir.resolve("full");
        Path hfCkpt = out.resolve("checkpoints/global_step_3/hf_ckpt");
        assertEquals(Set.of(WEIGHTS, "config.json"), files(hfCkpt), "a diffusers folder, no tokenizer");
        assertEquals(Set.of(WEIGHTS, "config.json"), files(out.resolve("final_hf")));
        assertFalse(Files.exists(out.resolve("final_lora")));
        assertEquals("WanTransformer3DModel",
                MainCliTest.JSON.readTree(hfCkpt.resolve("config.json").toFile()).get("_class_name").asText());

        // export-hf of the checkpoint: the same diffusers folder as its hf_ckpt/.
        Path exported = dir.resolve("full-export");
        MainCliTest.Run e = MainCliTest.main("export-hf", "--checkpoint", out.resolve("checkpoints/global_step_3")
                .toString(), "--out", exported.toString());
        assertEquals(0, e.code(), e.out() + e.err());
        assertEquals(Set.of(WEIGHTS, "config.json"), files(exported));
        Map<String, float[]> want = tensors(hfCkpt.resolve(WEIGHTS));
        Map<String, float[]> got = tensors(exported.resolve(WEIGHTS));
        assertEquals(want.keySet(), got.keySet());
        want.forEach((k, v) -> assertArrayEquals(v, got.get(k), 0f, "export-hf " + k));
        assertEquals(MainCliTest.JSON.readTree(hfCkpt.resolve("config.json").toFile()),
                MainCliTest.JSON.readTree(exported.resolve("config.json").toFile()));
        MainCliTest.Run withTokenizer = MainCliTest.main("export-hf", "--checkpoint",
                out.resolve("checkpoints/global_step_3").toString(), "--out", dir.resolve("full-tok").toString(),
                "--tokenizer", "byte");
        assertEquals(2, withTokenizer.code(), withTokenizer.out());
        assertTrue(withTokenizer.err().contains("--tokenizer: ") && withTokenizer.err().contains("holds a wan model, "
                + "whose folder carries no tokenizer"), withTokenizer.err());
        assertFalse(Files.exists(dir.resolve("full-tok").resolve(WEIGHTS)), "nothing is written");

        // Stopped at step 3 and resumed from its checkpoint by a second job.
        Run first = train(settings("cut", "train.lr=2e-3", "train.max_steps=3", "train.save_steps=3"));
        Run rest = train(settings("cut", "train.lr=2e-3", "train.max_steps=6", "train.save_steps=3",
                "train.load_checkpoint_path=auto"));
        assertTrue(rest.log().contains("resumed from ") && rest.log().contains(" at step 3"), rest.log());
        assertEquals(Set.of(4L, 5L, 6L), rest.steps().keySet());
        Map<Long, StepResult> cut = new TreeMap<>(first.steps());
        cut.putAll(rest.steps());
        assertEquals(straight.steps().keySet(), cut.keySet());
        for (long step : straight.steps().keySet()) {
            assertEquals(straight.steps().get(step).loss(), cut.get(step).loss(), 0, "loss of step " + step);
            assertEquals(straight.steps().get(step).gradNorm(), cut.get(step).gradNorm(), 0, "grad norm " + step);
        }
        Map<String, float[]> a = tensors(out.resolve("final_hf").resolve(WEIGHTS));
        Map<String, float[]> b = tensors(dir.resolve("cut/final_hf").resolve(WEIGHTS));
        a.forEach((k, v) -> assertArrayEquals(v, b.get(k), 0f, "resumed final weights " + k));
        System.out.printf("wan full run on prepared latents: loss %.5f -> %.5f, resumed at 3 bit-identical%n",
                straight.steps().get(1L).loss(), straight.steps().get(6L).loss());
    }

    /**
     * The DiT's output on fixed inputs for the diffusers folder {@code dir}; with {@code adapter} the
     * model is built with the run's LoRA config and that folder's PEFT adapter applied (not merged).
     */
    static float[] forward(Path dir, Path adapter) throws IOException {
        ModelOptions options = adapter == null ? ModelOptions.defaults()
                : new ModelOptions("auto", 0, PeftAdapter.readConfig(adapter).lora());
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.fromHf(dir, options, rank.manager(), DataType.FLOAT32);
                    NDManager scope = rank.manager().newSubManager()) {
                if (adapter != null) {
                    LoraConfig lora = loaded.model().lora();
                    assertNotNull(lora);
                    PeftAdapter.load(adapter, List.copyOf(HfCheckpoint.adapterUnits(loaded.model()).values()),
                            loaded.params(), rank.manager(), loaded.model().stateDictAdapter()::toPeft);
                }
                SplittableRandom random = new SplittableRandom(5);
                NDArray hidden = scope.create(gaussian(random, 4 * 2 * 6 * 6), new Shape(1, 4, 2, 6, 6));
                NDArray timestep = scope.create(new float[] {700f}, new Shape(1));
                NDArray text = scope.create(gaussian(random, 8 * 16), new Shape(1, 8, 16));
                return new WanForward(loaded.model()).sample(scope, loaded.params(), DataType.FLOAT32, hidden,
                        timestep, text, null).toFloatArray();
            }
        }
    }

    static float[] gaussian(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return v;
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
        }
        return worst;
    }

    static Set<String> files(Path folder) throws IOException {
        try (var s = Files.list(folder)) {
            // Hadoop's local file system writes .crc side files; they are not part of the folder's format.
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).collect(Collectors.toSet());
        }
    }

    static Map<String, float[]> tensors(Path file) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (TensorInfo t : reader.tensors()) {
                out.put(t.name(), reader.readFloats(t.name()));
            }
        }
        return out;
    }

    static Map<String, long[]> shapes(Path file) throws IOException {
        Map<String, long[]> out = new LinkedHashMap<>();
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            for (TensorInfo t : reader.tensors()) {
                out.put(t.name(), t.shape());
            }
        }
        return out;
    }
}
