package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.concat;
import static ai.omnispark.trainer.testing.TestRuns.copy;
import static ai.omnispark.trainer.testing.TestRuns.tensors;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.models.lora.LoraAdapters;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.parallel.checkpoint.CheckpointPaths;
import ai.omnispark.parallel.checkpoint.CheckpointReader;
import ai.omnispark.parallel.checkpoint.RankState;
import ai.omnispark.parallel.param.OwnedSlice;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.parallel.safetensors.TensorInfo;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TinyModel;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA through the whole job. A tiny Qwen3 is first fully fine-tuned for a few steps (its
 * {@code final_hf} is the base); rank-8 adapters on all seven linear kinds then train on top of it.
 * FSDP 2 and 4, HSDP 2x2 and DDP 2 must reproduce one rank within {@link #TOLERANCE} (loss and gradient
 * norm per step, relative; adapter weights at the end, absolute); the frozen base must come out of
 * training bit for bit as it went in; {@code final_hf} must be the base merged with
 * {@code final_lora}, W + alpha/r * B A computed here in float64; each checkpoint's {@code hf_ckpt/}
 * must be the PEFT adapter of its step; a resumed run must reproduce the uninterrupted one bit for
 * bit at the same world size and within the tolerance when 2 ranks' checkpoint is resumed by 4.
 */
class LoraTrainingTest {
    static final double TOLERANCE = 1e-5;
    static final List<String> ALL_SEVEN = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");
    static final LoraConfig LORA = new LoraConfig(8, 16.0, 0.0, ALL_SEVEN);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static Path base;

    /** The base: a full fine-tune of 4 steps, so the frozen weights are not the seed's init. */
    @BeforeAll
    static void trainBase() throws Exception {
        Path config = TinyModel.write(dir, false);
        List<String> sets = new ArrayList<>(common("base"));
        sets.addAll(List.of("model.config_path=" + config, "train.max_steps=4", "train.data_parallel_mode=none",
                "train.lr=3e-3"));
        TrainSummary summary = LocalLauncher.run(Settings.fromTree(null, sets, "test"), (r, total) -> {},
                new PrintStream(new ByteArrayOutputStream()), 0);
        base = dir.resolve("base/final_hf");
        assertTrue(Files.isRegularFile(base.resolve("model.safetensors")), "the base run wrote final_hf");
        assertNull(summary.adapterDir(), "a run without LoRA has no adapter");
        assertTrue(summary.toJsonLine().contains("\"adapter_dir\":null"), summary.toJsonLine());
    }

    private static List<String> common(String out) {
        return List.of("data.train_path=synthetic://text", "data.max_seq_len=32", "train.output_dir=" + dir.resolve(out),
                "train.global_batch_size=8", "train.micro_batch_size=1", "train.threads=1",
                "train.comm_timeout_s=30", "train.weight_decay=0.01", "train.save_hf_weights=true");
    }

    /** A LoRA run on the base: 6 steps, a checkpoint every 3, the adapters at lora_lr 2e-3. */
    static Settings lora(String out, String... sets) {
        List<String> all = new ArrayList<>(common(out));
        all.addAll(List.of("model.model_path=" + base, "model.lora_config.rank=8", "model.lora_config.alpha=16",
                "model.lora_config.lora_modules=" + String.join(",", ALL_SEVEN), "train.lr=1e-3",
                "train.lora_lr=2e-3", "train.max_steps=6", "train.save_steps=3"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    record Run(Map<Long, StepResult> steps, TrainSummary summary, String log) {}

    static Run train(Settings s) throws Exception {
        Map<Long, StepResult> steps = new ConcurrentHashMap<>();
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        TrainSummary summary = LocalLauncher.run(s, (r, total) -> steps.put(r.step(), r),
                new PrintStream(printed, true), 0);
        return new Run(new TreeMap<>(steps), summary, printed.toString());
    }

    static Map<String, float[]> adapter(Path runDir) throws IOException {
        return tensors(runDir.resolve("final_lora").resolve(PeftAdapter.WEIGHTS));
    }

    /** Worst relative difference of loss and grad norm, asserting each is within the tolerance. */
    static double[] assertSameSteps(String what, Map<Long, StepResult> ref, Map<Long, StepResult> run) {
        assertEquals(ref.keySet(), run.keySet(), what + ": steps");
        double worstLoss = 0;
        double worstNorm = 0;
        for (long step : ref.keySet()) {
            double loss = rel(ref.get(step).loss(), run.get(step).loss());
            double norm = rel(ref.get(step).gradNorm(), run.get(step).gradNorm());
            assertTrue(loss <= TOLERANCE, what + ": step " + step + " loss " + run.get(step).loss() + " vs "
                    + ref.get(step).loss());
            assertTrue(norm <= TOLERANCE, what + ": step " + step + " grad norm " + run.get(step).gradNorm() + " vs "
                    + ref.get(step).gradNorm());
            worstLoss = Math.max(worstLoss, loss);
            worstNorm = Math.max(worstNorm, norm);
        }
        return new double[] {worstLoss, worstNorm};
    }

    static double assertClose(String what, Map<String, float[]> ref, Map<String, float[]> got) {
        assertEquals(ref.keySet(), got.keySet(), what + ": tensors");
        double worst = 0;
        for (String name : ref.keySet()) {
            float[] a = ref.get(name);
            float[] b = got.get(name);
            assertEquals(a.length, b.length, what + ": " + name);
            for (int i = 0; i < a.length; i++) {
                double d = Math.abs((double) a[i] - b[i]);
                assertTrue(d <= TOLERANCE, what + ": " + name + "[" + i + "] " + b[i] + " vs " + a[i]);
                worst = Math.max(worst, d);
            }
        }
        return worst;
    }

    static void assertBitEqual(String what, Map<String, float[]> ref, Map<String, float[]> got) {
        assertEquals(ref.keySet(), got.keySet(), what + ": tensors");
        for (String name : ref.keySet()) {
            assertArrayEquals(ref.get(name), got.get(name), 0f, what + ": " + name);
        }
    }

    static void assertStepsBitEqual(String what, Map<Long, StepResult> full, Map<Long, StepResult> resumed,
            long from) {
        for (long step : resumed.keySet()) {
            assertTrue(step >= from, what + ": step " + step + " ran again");
            assertEquals(full.get(step).loss(), resumed.get(step).loss(), 0.0, what + ": step " + step + " loss");
            assertEquals(full.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0,
                    what + ": step " + step + " grad norm");
        }
        assertEquals(full.keySet().stream().filter(s -> s >= from).toList(), new ArrayList<>(resumed.keySet()),
                what + ": steps after the cut");
    }

    private static double rel(double ref, double got) {
        return Math.abs(ref - got) / Math.abs(ref);
    }

    /** The LoRA model of the runs, without weights: its units and names. */
    static Model model() throws IOException {
        return ModelFamilies.load(base, new ModelOptions("auto", 0, LORA));
    }

    /** Every unit of checkpoint {@code step}, whole, as one rank of a 1-rank world would read it. */
    static RankState checkpoint(Path runDir, long step, Model model) throws IOException {
        CheckpointReader reader = checkpointReader(runDir, step);
        return reader.read(model.units(), unit -> {
            long n = unitOf(model, unit).numel();
            return new OwnedSlice(0, n, n);
        });
    }

    static CheckpointReader checkpointReader(Path runDir, long step) throws IOException {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        return new CheckpointReader(fs, CheckpointPaths.step(
                new org.apache.hadoop.fs.Path(runDir.resolve("checkpoints").toUri()), step));
    }

    static UnitLayout unitOf(Model model, String name) {
        return model.units().stream().filter(u -> u.name().equals(name)).findFirst().orElseThrow();
    }

    /** Parameter {@code p} of {@code unit} out of a whole unit's flat weights. */
    static float[] param(UnitLayout unit, ParamSpec p, float[] flat) {
        int start = (int) unit.offset(p.name());
        return Arrays.copyOfRange(flat, start, start + (int) p.numel());
    }

    @Test
    void everyLayoutMatchesOneRankTheBaseStaysAndTheOutputsAreThePeftAdapterAndTheMergedWeights() throws Exception {
        Run ref = train(lora("ref", "train.data_parallel_mode=none"));
        assertEquals(6, ref.steps().size());
        assertTrue(ref.log().contains("LoRA rank 8, alpha 16.0 on 14 linears"), ref.log());
        assertTrue(ref.log().contains("LoRA adapters train at train.lora_lr 0.002 (the lr shown, x 2.0)"), ref.log());
        Map<String, float[]> refAdapter = adapter(dir.resolve("ref"));
        // B starts at zero and A's first gradient is zero; after 6 steps both must have moved.
        double largestB = refAdapter.entrySet().stream().filter(e -> e.getKey().endsWith(PeftAdapter.B_SUFFIX))
                .flatMapToDouble(e -> floats(e.getValue())).map(Math::abs).max().orElse(0);
        assertTrue(largestB > 1e-4, "the adapters trained: largest |B| " + largestB);

        String[][] layouts = {
            {"fsdp2", "train.world_size=2"},
            {"fsdp4", "train.world_size=4"},
            {"hsdp2x2", "train.world_size=4", "train.data_parallel_replicate_size=2"},
            {"ddp2", "train.world_size=2", "train.data_parallel_mode=ddp"},
        };
        Map<String, Run> runs = new LinkedHashMap<>();
        for (String[] layout : layouts) {
            Run run = train(lora(layout[0], Arrays.copyOfRange(layout, 1, layout.length)));
            runs.put(layout[0], run);
            double[] steps = assertSameSteps(layout[0], ref.steps(), run.steps());
            double weights = assertClose(layout[0] + " final_lora", refAdapter, adapter(dir.resolve(layout[0])));
            System.out.printf("LoRA %s vs one rank: loss %.2e relative, grad norm %.2e relative, adapter weights "
                    + "%.2e%n", layout[0], steps[0], steps[1], weights);
        }

        Path fsdp2 = dir.resolve("fsdp2");
        Run run = runs.get("fsdp2");
        // train_end names both folders.
        assertEquals(fsdp2.resolve("final_lora").toUri().getPath().replaceAll("/$", ""),
                java.net.URI.create(run.summary().adapterDir()).getPath());
        JsonNode end = JSON.readTree(run.summary().toJsonLine());
        assertEquals(run.summary().adapterDir(), end.get("adapter_dir").asText());
        assertTrue(end.get("hf_dir").asText().endsWith("final_hf"), end.toString());

        // final_lora: PEFT's layout and config.
        PeftAdapter.Adapter finalLora = PeftAdapter.read(fsdp2.resolve("final_lora"));
        assertEquals(LORA, finalLora.config().lora());
        assertEquals(base.toString(), finalLora.config().baseModel());
        assertEquals(2 * 7 * 2, finalLora.tensors().size(), "A and B of 7 linears in 2 layers");
        assertTrue(finalLora.tensors().containsKey("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"),
                finalLora.tensors().keySet().toString());
        assertTrue(Files.isRegularFile(fsdp2.resolve("final_lora/tokenizer.json")), "the tokenizer travels");

        Map<String, float[]> baseW = tensors(base.resolve("model.safetensors"));
        try (Model model = model()) {
            StateDictAdapter names = model.stateDictAdapter();
            // The base is bit-identical after training: every frozen unit in the last checkpoint.
            RankState last = checkpoint(fsdp2, 6, model);
            int frozenParams = 0;
            for (UnitLayout unit : model.units()) {
                boolean adapterUnit = unit.name().endsWith(LoraAdapters.unitOf(""));
                float[] flat = last.model().get(unit.name()).values();
                for (ParamSpec p : unit.params()) {
                    if (adapterUnit) {
                        // The checkpoint's adapter is the one final_lora holds, exactly.
                        assertArrayEquals(finalLora.tensors().get(names.toPeft(p.name())).values(),
                                param(unit, p, flat), 0f, p.name());
                    } else {
                        assertArrayEquals(baseW.get(names.toHf(p.name())), param(unit, p, flat), 0f,
                                "frozen " + p.name() + " changed in training");
                        frozenParams++;
                    }
                }
            }
            assertEquals(baseW.size(), frozenParams, "every base tensor is a frozen parameter");
            // Optimizer state only for the adapters.
            JsonNode optIndex = JSON.readTree(fsdp2.resolve("checkpoints/global_step_6/optimizer/index.json").toFile());
            Iterator<String> keys = optIndex.get("tensors").fieldNames();
            int optKeys = 0;
            while (keys.hasNext()) {
                String key = keys.next();
                assertTrue(key.startsWith("layers.") && key.contains(LoraAdapters.unitOf("")), key);
                optKeys++;
            }
            assertTrue(optKeys > 0, "the adapters have optimizer state");
            // The extra state names the adapter config for export-hf.
            JsonNode extra = checkpointReader(fsdp2, 3).extraState();
            PeftConfig saved = PeftConfig.fromJson(extra.get(RankJob.EXTRA_LORA_CONFIG), "extra_state");
            assertEquals(new PeftConfig(LORA, base.toString()), saved);

            // hf_ckpt of step 3 is the PEFT adapter of step 3 (not the final one), with the tokenizer.
            Path hfCkpt = fsdp2.resolve("checkpoints/global_step_3/hf_ckpt");
            assertFalse(Files.exists(hfCkpt.resolve("model.safetensors")), "a LoRA hf_ckpt holds no full weights");
            assertTrue(Files.isRegularFile(hfCkpt.resolve("tokenizer.json")));
            PeftAdapter.Adapter step3 = PeftAdapter.read(hfCkpt);
            RankState third = checkpoint(fsdp2, 3, model);
            boolean differsFromFinal = false;
            for (Map.Entry<String, UnitLayout> e : ai.omnispark.models.hf.HfCheckpoint.adapterUnits(model).entrySet()) {
                UnitLayout unit = e.getValue();
                for (ParamSpec p : unit.params()) {
                    float[] want = param(unit, p, third.model().get(unit.name()).values());
                    float[] got = step3.tensors().get(names.toPeft(p.name())).values();
                    assertArrayEquals(want, got, 0f, "hf_ckpt of step 3: " + p.name());
                    differsFromFinal |= !Arrays.equals(got, finalLora.tensors().get(names.toPeft(p.name())).values());
                }
            }
            assertTrue(differsFromFinal, "step 3's adapter is not the final one");

            // final_hf = base + alpha/r B A, in float64 from the two files; untouched tensors bit-equal.
            Map<String, float[]> merged = tensors(fsdp2.resolve("final_hf/model.safetensors"));
            assertEquals(baseW.keySet(), merged.keySet());
            double scale = LORA.alpha() / LORA.rank();
            double worstMerge = 0;
            int mergedCount = 0;
            for (String hfName : baseW.keySet()) {
                String module = hfName.substring(0, hfName.length() - ".weight".length());
                PeftAdapter.Tensor a = finalLora.tensors().get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.A_SUFFIX);
                if (a == null) {
                    assertArrayEquals(baseW.get(hfName), merged.get(hfName), 0f, hfName + " has no adapter");
                    continue;
                }
                PeftAdapter.Tensor b = finalLora.tensors().get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.B_SUFFIX);
                int r = (int) a.shape()[0];
                int in = (int) a.shape()[1];
                int out = (int) b.shape()[0];
                float[] w = baseW.get(hfName);
                float[] m = merged.get(hfName);
                assertEquals((long) out * in, w.length, hfName);
                for (int i = 0; i < out; i++) {
                    for (int j = 0; j < in; j++) {
                        double ba = 0;
                        for (int k = 0; k < r; k++) {
                            ba += (double) b.values()[i * r + k] * a.values()[k * in + j];
                        }
                        double want = w[i * in + j] + scale * ba;
                        double d = Math.abs(want - m[i * in + j]);
                        assertTrue(d <= TOLERANCE, hfName + "[" + i + "," + j + "] " + m[i * in + j] + " vs " + want);
                        worstMerge = Math.max(worstMerge, d);
                    }
                }
                mergedCount++;
            }
            assertEquals(14, mergedCount, "all seven linears of both layers merged");
            System.out.printf("LoRA final_hf vs base + alpha/r B A (float64): max difference %.2e%n", worstMerge);
        }

        // Resume: cut after the step-3 checkpoint; the same world reproduces fsdp2 bit for bit.
        Exception failure = assertThrows(Exception.class, () -> train(lora("cut", "train.world_size=2",
                "debug.fail_at_step=4")));
        assertTrue(failure.getMessage().contains("fail"), failure.toString());
        copy(dir.resolve("cut"), dir.resolve("cut-same"));
        Run same = train(lora("cut-same", "train.world_size=2", "train.load_checkpoint_path=auto"));
        assertTrue(same.log().contains("resumed from"), same.log());
        assertStepsBitEqual("resume on 2", run.steps(), same.steps(), 4);
        assertBitEqual("resume on 2 final_lora", adapter(fsdp2), adapter(dir.resolve("cut-same")));
        assertBitEqual("resume on 2 final_hf", tensors(fsdp2.resolve("final_hf/model.safetensors")),
                tensors(dir.resolve("cut-same/final_hf/model.safetensors")));
        // Saved by 2 ranks, resumed by 4 (resharded): within the tolerance.
        copy(dir.resolve("cut"), dir.resolve("cut-four"));
        Run four = train(lora("cut-four", "train.world_size=4", "train.load_checkpoint_path=auto",
                "train.resume_policy=allow_changes"));
        Map<Long, StepResult> tail = new TreeMap<>(run.steps());
        tail.keySet().removeIf(s -> s < 4);
        double[] steps = assertSameSteps("2 -> 4 ranks", tail, four.steps());
        double weights = assertClose("2 -> 4 ranks final_lora", adapter(fsdp2), adapter(dir.resolve("cut-four")));
        System.out.printf("LoRA resume 2 -> 4 ranks vs uninterrupted: loss %.2e relative, grad norm %.2e relative, "
                + "adapter weights %.2e%n", steps[0], steps[1], weights);
    }

    /**
     * Adapter dropout draws its masks from each rank's generator: two identical 2-rank runs are bit
     * equal, the masks change the losses, and a run cut after step 3 and resumed reproduces the
     * uninterrupted one bit for bit.
     */
    @Test
    void adapterDropoutIsReproducibleAndResumesBitIdentically() throws Exception {
        String[] dropout = {"train.world_size=2", "model.lora_config.dropout=0.1"};
        Run first = train(lora("drop-a", dropout));
        Run second = train(lora("drop-b", dropout));
        assertStepsBitEqual("a second identical run", first.steps(), second.steps(), 1);
        assertBitEqual("a second identical run", adapter(dir.resolve("drop-a")), adapter(dir.resolve("drop-b")));
        assertEquals(0.1, PeftAdapter.readConfig(dir.resolve("drop-a/final_lora")).lora().dropout());

        // Recomputing every segment in backward draws the same masks again: bit for bit the same run.
        Run recomputed = train(lora("drop-recompute", concat(dropout, "train.enable_gradient_checkpointing=true")));
        assertStepsBitEqual("recompute with adapter dropout", first.steps(), recomputed.steps(), 1);
        assertBitEqual("recompute with adapter dropout", adapter(dir.resolve("drop-a")),
                adapter(dir.resolve("drop-recompute")));

        Run none = train(lora("drop-none", "train.world_size=2"));
        // Step 1's loss is the base's (B = 0); from step 2 on the dropped adapter inputs show.
        assertNotEquals(none.steps().get(2L).loss(), first.steps().get(2L).loss(), "dropout is in effect");

        assertThrows(Exception.class, () -> train(lora("drop-cut", concat(dropout, "debug.fail_at_step=4"))));
        Run resumed = train(lora("drop-cut", concat(dropout, "train.load_checkpoint_path=auto")));
        assertTrue(resumed.log().contains("resumed from"), resumed.log());
        assertStepsBitEqual("dropout resume", first.steps(), resumed.steps(), 4);
        assertBitEqual("dropout resume final_lora", adapter(dir.resolve("drop-a")), adapter(dir.resolve("drop-cut")));
    }

    /**
     * train.lora_lr is the adapters' rate: B starts at zero and AdamW's first step moves each element
     * by lr * g / (|g| + eps), so after one step every |B| is at most the adapters' rate and the
     * largest is that rate (to eps / |g|); with lora_lr = 2 lr it is twice the schedule's lr.
     */
    @Test
    void theAdaptersTrainAtLoraLr() throws Exception {
        for (String loraLr : List.of("2e-3", "0")) {
            Run run = train(lora("lr-" + loraLr, "train.data_parallel_mode=none", "train.max_steps=1",
                    "train.lora_lr=" + loraLr, "train.weight_decay=0"));
            double scheduleLr = run.steps().get(1L).lr();
            double want = loraLr.equals("0") ? scheduleLr : 2 * scheduleLr;
            double largest = 0;
            for (Map.Entry<String, float[]> e : adapter(dir.resolve("lr-" + loraLr)).entrySet()) {
                if (e.getKey().endsWith(PeftAdapter.B_SUFFIX)) {
                    for (float v : e.getValue()) {
                        assertTrue(Math.abs(v) <= want * (1 + 1e-6), e.getKey() + " moved " + v + " > " + want);
                        largest = Math.max(largest, Math.abs(v));
                    }
                }
            }
            assertEquals(want, largest, want * 1e-3, "train.lora_lr=" + loraLr + ": the largest first step of B");
        }
        // Without HF weights a LoRA run still leaves its adapter, but no merged folder and no hf_ckpt/.
        Run run = train(lora("no-hf", "train.data_parallel_mode=none", "train.max_steps=1",
                "train.save_hf_weights=false"));
        assertNull(run.summary().hfDir());
        assertNotNull(run.summary().adapterDir());
        assertEquals(LORA, PeftAdapter.readConfig(dir.resolve("no-hf/final_lora")).lora());
        assertFalse(Files.exists(dir.resolve("no-hf/final_hf")));
        assertFalse(Files.exists(dir.resolve("no-hf/checkpoints/global_step_1/hf_ckpt")));
    }

    private static java.util.stream.DoubleStream floats(float[] values) {
        return java.util.stream.IntStream.range(0, values.length).mapToDouble(i -> values[i]);
    }
}
