package ai.omnispark.trainer.job;

import static ai.omnispark.trainer.testing.TestRuns.concat;
import static ai.omnispark.trainer.testing.TestRuns.tensors;
import static ai.omnispark.trainer.testing.TestRuns.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.trainer.cli.MainAccess;
import ai.omnispark.trainer.config.Settings;
import ai.omnispark.trainer.loop.StepResult;
import ai.omnispark.trainer.testing.TestRuns;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny Qwen2-VL trained through the whole job on data the prepare step made from
 * {@link SyntheticSample} (8 images, and 8 videos, resized to 56 x 56 so an image is 4 x 4 patches
 * of 14 = 4 merged tokens and a 4-frame video 2 x 4 x 4 patches = 8 tokens; one captioned media per
 * packed row of 64 tokens, vision_start / vision_end around each run).
 *
 * <p>Each dataset holds exactly {@value #ROWS} rows, the global batch: the shard reader gives each
 * data-parallel rank a contiguous slice of the epoch's order, so only when a step is a whole epoch
 * do 1, 2 and 4 ranks train on the same rows in every step (the same rows, in other micro-batches:
 * the loss is the summed cross-entropy over the global batch's labelled tokens, so the grouping does
 * not matter). Micro-batches of one row make every run accumulate (1 rank: 8 a step; 2: 4; 4: 2).
 *
 * <p>FSDP 2 and 4 (in process, over Unix sockets, with recompute), HSDP 2 x 2 and DDP 2 must
 * reproduce one rank within {@value #TOLERANCE} (loss and gradient norm per step, relative; every
 * final_hf tensor, absolute); a resumed FSDP 2 run must reproduce the uninterrupted one bit for bit;
 * frozen parts must come out of training bit for bit as they went in, with no optimizer state, while
 * the rest trains; LoRA on the language model's and the ViT's linears must match between 1 and 2
 * ranks and write the PEFT adapter and the merged weights (base + alpha/r B A in float64), and its
 * dropout must be reproducible under recompute and resume.
 */
class Qwen2VlTrainingTest {
    static final double TOLERANCE = 1e-5;
    static final int ROWS = 8;
    static final int STEPS = 12;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static Path model;
    static Path images;
    static Path videos;
    private static final Map<String, Map<Long, StepResult>> REFERENCES = new LinkedHashMap<>();

    /**
     * ViT depth 2, embed 32, 2 heads, MLP 64, patch 14, merge 2, temporal patch 2; decoder 2 layers of
     * hidden 32, 4 heads (head_dim 8, M-RoPE sections 2/1/1), 2 kv heads, untied; the byte tokenizer's
     * 259 ids plus image 259, video 260, vision_start 261, vision_end 262.
     */
    @BeforeAll
    static void prepareData() throws Exception {
        model = dir.resolve("tiny-qwen2vl.json");
        Files.writeString(model, """
                {"architectures":["Qwen2VLForConditionalGeneration"],"model_type":"qwen2_vl","vocab_size":263,
                 "hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,"num_attention_heads":4,
                 "num_key_value_heads":2,"hidden_act":"silu","rms_norm_eps":1e-6,"rope_theta":10000.0,
                 "rope_scaling":{"type":"mrope","mrope_section":[2,1,1]},"max_position_embeddings":512,
                 "initializer_range":0.05,"tie_word_embeddings":false,"bos_token_id":256,"eos_token_id":257,
                 "image_token_id":259,"video_token_id":260,"vision_start_token_id":261,"vision_end_token_id":262,
                 "vision_config":{"depth":2,"embed_dim":32,"hidden_size":32,"hidden_act":"quick_gelu",
                  "mlp_ratio":2.0,"num_heads":2,"in_channels":3,"patch_size":14,"spatial_merge_size":2,
                  "temporal_patch_size":2}}""");
        Path sample = dir.resolve("sample");
        SyntheticSample.write(sample, 0, ROWS, 11);
        images = prepare("image_text", sample.resolve("image_text.jsonl"), "prep-images");
        videos = prepare("video_text", sample.resolve("video_text.jsonl"), "prep-videos");
    }

    private static Path prepare(String type, Path input, String out) throws Exception {
        Path yaml = dir.resolve(out + ".yaml");
        Files.writeString(yaml, "data:\n  data_type: " + type + "\n");
        Path output = dir.resolve(out);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int code = MainAccess.run(new String[] {"prepare", yaml.toString(), "--set", "model.config_path=" + model,
            "--set", "data.train_path=" + input, "--set", "data.output_path=" + output, "--set", "data.max_seq_len=64",
            "--set", "data.max_pixels=3136", "--set", "data.max_frames=4", "--set", "data.num_shards=1"},
                new PrintStream(printed));
        assertEquals(0, code, printed.toString());
        JsonNode manifest = JSON.readTree(output.resolve("manifest.json").toFile());
        assertEquals(ROWS, manifest.get("rows").asLong(), "one captioned media per row: " + manifest);
        return output;
    }

    /** A run from fresh weights of {@link #model}, or from the HF folder a {@code model.model_path} set names. */
    private static Settings settings(Path data, String out, String... sets) {
        List<String> all = new ArrayList<>();
        if (java.util.Arrays.stream(sets).noneMatch(x -> x.startsWith("model.model_path="))) {
            all.add("model.config_path=" + model);
        }
        all.addAll(List.of("data.train_path=" + data,
                "data.max_seq_len=64", "train.output_dir=" + dir.resolve(out), "train.global_batch_size=" + ROWS,
                "train.micro_batch_size=1", "train.lr=3e-3", "train.weight_decay=0.01", "train.max_grad_norm=1.0",
                "train.max_steps=" + STEPS, "train.threads=1", "train.comm_timeout_s=60",
                "train.save_hf_weights=true"));
        all.addAll(List.of(sets));
        return Settings.fromTree(null, all, "test");
    }

    /** The single-rank run on {@code data}, once per test class. */
    private static synchronized Map<Long, StepResult> reference(Path data) throws Exception {
        String name = "one-" + data.getFileName();
        if (!REFERENCES.containsKey(name)) {
            REFERENCES.put(name, TestRuns.train(settings(data, name, "train.data_parallel_mode=none")));
        }
        return REFERENCES.get(name);
    }

    private static Path hf(String out) {
        return dir.resolve(out).resolve("final_hf");
    }

    /** Asserts loss and grad norm per step within the tolerance (relative); returns the worst. */
    private static double assertSameSteps(String what, Map<Long, StepResult> expected, Map<Long, StepResult> actual) {
        assertEquals(expected.keySet(), actual.keySet(), what + ": steps");
        double worst = 0;
        for (long step : expected.keySet()) {
            StepResult a = expected.get(step);
            StepResult b = actual.get(step);
            for (double[] pair : new double[][] {{a.loss(), b.loss()}, {a.gradNorm(), b.gradNorm()}}) {
                double rel = Math.abs(pair[0] - pair[1]) / Math.abs(pair[0]);
                worst = Math.max(worst, rel);
                assertTrue(rel <= TOLERANCE, what + " step " + step + ": expected " + pair[0] + ", got " + pair[1]);
            }
        }
        return worst;
    }

    /** Asserts every tensor of two HF folders within the tolerance (absolute); returns the worst difference. */
    private static double assertSameWeights(String what, Path expected, Path actual) throws IOException {
        Map<String, float[]> wa = weights(expected);
        Map<String, float[]> wb = weights(actual);
        assertEquals(wa.keySet(), wb.keySet(), what + ": exported tensors");
        double worst = 0;
        for (String name : wa.keySet()) {
            float[] x = wa.get(name);
            float[] y = wb.get(name);
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
                assertTrue(Math.abs(x[i] - y[i]) <= TOLERANCE,
                        what + ": " + name + "[" + i + "] " + y[i] + " vs " + x[i]);
            }
        }
        return worst;
    }

    private static void assertSameRun(String what, Map<Long, StepResult> expected, Path expectedHf,
            Map<Long, StepResult> actual, Path actualHf) throws IOException {
        double steps = assertSameSteps(what, expected, actual);
        double w = assertSameWeights(what, expectedHf, actualHf);
        System.out.printf("qwen2_vl %s: loss/grad norm within %.2e relative, weights within %.2e%n", what, steps, w);
    }

    @Test
    void fsdpOnImagesMatchesOneRank() throws Exception {
        Map<Long, StepResult> one = reference(images);
        assertEquals(STEPS, one.size());
        Path oneHf = hf("one-prep-images");
        Set<String> names = weights(oneHf).keySet();
        assertTrue(names.contains("visual.blocks.1.attn.qkv.weight") && names.contains("visual.merger.mlp.2.weight")
                && names.contains("model.layers.1.mlp.down_proj.weight") && names.contains("lm_head.weight"), names
                .toString());
        String[][] runs = {
            {"fsdp2-inproc", "train.world_size=2", "train.comm_transport=in_process"},
            {"fsdp4-unix", "train.world_size=4", "train.comm_transport=unix"},
            {"fsdp2-inproc-recompute", "train.world_size=2", "train.comm_transport=in_process",
                "train.enable_gradient_checkpointing=true"},
            {"hsdp2x2-inproc", "train.world_size=4", "train.data_parallel_replicate_size=2",
                "train.comm_transport=in_process"},
            {"ddp2-inproc", "train.world_size=2", "train.data_parallel_mode=ddp", "train.comm_transport=in_process"},
        };
        for (String[] run : runs) {
            Map<Long, StepResult> got = TestRuns.train(settings(images, run[0],
                    java.util.Arrays.copyOfRange(run, 1, run.length)));
            assertSameRun(run[0], one, oneHf, got, hf(run[0]));
        }
        assertTrue(one.get((long) STEPS).loss() < one.get(1L).loss() * 0.8, "the reference run learns: "
                + one.get(1L).loss() + " -> " + one.get((long) STEPS).loss());
    }

    @Test
    void fsdpOnVideosMatchesOneRank() throws Exception {
        Map<Long, StepResult> one = reference(videos);
        Map<Long, StepResult> got = TestRuns.train(settings(videos, "video-fsdp2-unix", "train.world_size=2",
                "train.comm_transport=unix"));
        assertSameRun("videos fsdp2 unix", one, hf("one-prep-videos"), got, hf("video-fsdp2-unix"));
        assertTrue(one.get((long) STEPS).loss() < one.get(1L).loss() * 0.8, "the video run learns: "
                + one.get(1L).loss() + " -> " + one.get((long) STEPS).loss());
    }

    @Test
    void aResumedRunIsBitIdentical() throws Exception {
        String[] fsdp2 = {"train.world_size=2", "train.save_steps=6"};
        Map<Long, StepResult> full = TestRuns.train(settings(images, "r-full", fsdp2));
        assertThrows(Exception.class, () -> TestRuns.train(settings(images, "r-cut",
                concat(fsdp2, "debug.fail_at_step=7"))));
        assertFalse(Files.exists(hf("r-cut")), "the interrupted run did not finish");
        Map<Long, StepResult> resumed = TestRuns.train(settings(images, "r-cut",
                concat(fsdp2, "train.load_checkpoint_path=auto")));
        Map<Long, StepResult> tail = new LinkedHashMap<>(full);
        tail.keySet().removeIf(k -> k <= 6);
        assertEquals(tail.keySet(), resumed.keySet());
        for (long step : tail.keySet()) {
            assertEquals(tail.get(step).loss(), resumed.get(step).loss(), 0.0, "step " + step + " loss after resume");
            assertEquals(tail.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0, "step " + step + " grad norm");
        }
        Map<String, float[]> fw = weights(hf("r-full"));
        Map<String, float[]> rw = weights(hf("r-cut"));
        assertEquals(fw.keySet(), rw.keySet());
        for (String name : fw.keySet()) {
            assertArrayEquals(fw.get(name), rw.get(name), 0f, name);
        }
    }

    /** The units the optimizer checkpoint of {@code out}'s step {@code step} holds state for. */
    private static Set<String> optimizerUnits(String out, long step) throws IOException {
        JsonNode index = JSON.readTree(dir.resolve(out).resolve("checkpoints/global_step_" + step
                + "/optimizer/index.json").toFile());
        Set<String> units = new TreeSet<>();
        for (Iterator<String> keys = index.get("tensors").fieldNames(); keys.hasNext(); ) {
            units.add(keys.next());
        }
        return units;
    }

    private static boolean vision(String hfName) {
        return hfName.startsWith("visual.") && !hfName.startsWith("visual.merger.");
    }

    private static boolean merger(String hfName) {
        return hfName.startsWith("visual.merger.");
    }

    /**
     * Starting from the single rank's final weights, 2-rank runs with (a) the vision tower and merger
     * frozen, (b) the language model frozen: every frozen tensor comes out bit for bit as it went in,
     * every other tensor changes, and the optimizer state names only the training units.
     */
    @Test
    void frozenPartsStayAsTheyWereAndHoldNoOptimizerState() throws Exception {
        reference(images);
        Path base = hf("one-prep-images");
        Map<String, float[]> before = weights(base);
        record Case(String out, String[] sets, java.util.function.Predicate<String> frozen) {}
        List<Case> cases = List.of(
                new Case("freeze-vision-merger", new String[] {"model.freeze_vision_tower=true",
                    "model.freeze_merger=true"}, n -> vision(n) || merger(n)),
                new Case("freeze-lm", new String[] {"model.freeze_language_model=true"},
                    n -> !vision(n) && !merger(n)));
        for (Case c : cases) {
            TestRuns.train(settings(images, c.out(), concat(concat(c.sets(), "model.model_path=" + base),
                    "train.world_size=2", "train.max_steps=4", "train.save_steps=4")));
            Map<String, float[]> after = weights(hf(c.out()));
            assertEquals(before.keySet(), after.keySet());
            int frozen = 0;
            for (String name : before.keySet()) {
                if (c.frozen().test(name)) {
                    assertArrayEquals(before.get(name), after.get(name), 0f, c.out() + ": frozen " + name + " changed");
                    frozen++;
                } else {
                    assertFalse(java.util.Arrays.equals(before.get(name), after.get(name)),
                            c.out() + ": " + name + " did not train");
                }
            }
            assertTrue(frozen > 0, c.out());
            Set<String> stateUnits = optimizerUnits(c.out(), 4);
            assertFalse(stateUnits.isEmpty(), c.out() + ": the training parts have optimizer state");
            for (String unit : stateUnits) {
                boolean visual = unit.startsWith("visual.");
                boolean frozenUnit = c.out().equals("freeze-lm") ? !visual : visual;
                assertFalse(frozenUnit, c.out() + ": optimizer state for frozen unit " + unit + ": " + stateUnits);
            }
            System.out.printf("qwen2_vl %s: %d frozen tensors unchanged; optimizer state for %s%n", c.out(), frozen,
                    stateUnits);
        }
    }

    /**
     * LoRA (rank 4, alpha 8) on every linear of the language model and of the ViT blocks, on the
     * single rank's final weights: 2 ranks match 1; final_lora holds the PEFT keys of exactly those
     * linears; final_hf is the base merged with final_lora in float64, every other tensor the base's
     * bit for bit.
     */
    @Test
    void loraOnTheLanguageModelAndTheVisionTowerTrainsAndExports() throws Exception {
        reference(images);
        Path base = hf("one-prep-images");
        List<String> modules = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2");
        String[] lora = {"model.model_path=" + base, "model.lora_config.rank=4", "model.lora_config.alpha=8",
            "model.lora_config.lora_modules=" + String.join(",", modules), "train.max_steps=6"};
        Map<Long, StepResult> one = TestRuns.train(settings(images, "lora-one", concat(lora,
                "train.data_parallel_mode=none")));
        Map<Long, StepResult> two = TestRuns.train(settings(images, "lora-fsdp2", concat(lora, "train.world_size=2")));
        double steps = assertSameSteps("lora fsdp2", one, two);
        double merged = assertSameWeights("lora fsdp2 final_hf", hf("lora-one"), hf("lora-fsdp2"));
        System.out.printf("qwen2_vl lora fsdp2: loss/grad norm within %.2e relative, merged weights within %.2e%n",
                steps, merged);

        Path adapterDir = dir.resolve("lora-fsdp2/final_lora");
        PeftAdapter.Adapter adapter = PeftAdapter.read(adapterDir);
        Set<String> expectedKeys = new TreeSet<>();
        for (int layer = 0; layer < 2; layer++) {
            for (String kind : List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")) {
                expectedKeys.add("base_model.model.model.layers." + layer + "." + kind + ".lora_A.weight");
                expectedKeys.add("base_model.model.model.layers." + layer + "." + kind + ".lora_B.weight");
            }
            for (String kind : List.of("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")) {
                expectedKeys.add("base_model.model.visual.blocks." + layer + "." + kind + ".lora_A.weight");
                expectedKeys.add("base_model.model.visual.blocks." + layer + "." + kind + ".lora_B.weight");
            }
        }
        assertEquals(expectedKeys, new TreeSet<>(adapter.tensors().keySet()));
        assertEquals(modules, adapter.config().lora().modules());
        assertArrayEquals(new long[] {4, 32}, adapter.tensors()
                .get("base_model.model.visual.blocks.0.attn.qkv.lora_A.weight").shape());
        assertArrayEquals(new long[] {96, 4}, adapter.tensors()
                .get("base_model.model.visual.blocks.0.attn.qkv.lora_B.weight").shape());

        Map<String, float[]> baseW = weights(base);
        Map<String, float[]> mergedW = tensors(hf("lora-fsdp2").resolve("model.safetensors"));
        assertEquals(baseW.keySet(), mergedW.keySet());
        double scale = 8.0 / 4;
        double worst = 0;
        int mergedCount = 0;
        for (String hfName : baseW.keySet()) {
            String module = hfName.endsWith(".weight") ? hfName.substring(0, hfName.length() - ".weight".length()) : "";
            PeftAdapter.Tensor a = adapter.tensors().get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.A_SUFFIX);
            if (a == null) {
                assertArrayEquals(baseW.get(hfName), mergedW.get(hfName), 0f, hfName + " has no adapter");
                continue;
            }
            PeftAdapter.Tensor b = adapter.tensors().get(PeftAdapter.KEY_PREFIX + module + PeftAdapter.B_SUFFIX);
            int r = (int) a.shape()[0];
            int in = (int) a.shape()[1];
            int out = (int) b.shape()[0];
            float[] w = baseW.get(hfName);
            float[] m = mergedW.get(hfName);
            assertEquals((long) out * in, w.length, hfName);
            boolean moved = false;
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < in; j++) {
                    double ba = 0;
                    for (int k = 0; k < r; k++) {
                        ba += (double) b.values()[i * r + k] * a.values()[k * in + j];
                    }
                    double want = w[i * in + j] + scale * ba;
                    double d = Math.abs(want - m[i * in + j]);
                    assertTrue(d <= TOLERANCE, hfName + "[" + i + "," + j + "] " + m[i * in + j] + " vs " + want);
                    worst = Math.max(worst, d);
                    moved |= m[i * in + j] != w[i * in + j];
                }
            }
            assertTrue(moved, hfName + ": its adapter trained");
            mergedCount++;
        }
        assertEquals(2 * 7 + 2 * 4, mergedCount, "7 linears in each of 2 layers, 4 in each of 2 ViT blocks");
        System.out.printf("qwen2_vl lora final_hf vs base + alpha/r B A (float64): max difference %.2e%n", worst);
    }

    /**
     * LoRA dropout (0.2) on the decoder's and the ViT's linears, 2 ranks: the masks ride on the batch,
     * so recompute reproduces the run bit for bit, and a run resumed from its step-3 checkpoint
     * reproduces the uninterrupted one bit for bit (the generators are restored); dropout changes the
     * losses from the same run without it once B has left zero. export-hf --merge-lora of the last
     * checkpoint gives final_hf exactly.
     */
    @Test
    void loraDropoutIsReproducibleUnderRecomputeAndResume() throws Exception {
        reference(images);
        Path base = hf("one-prep-images");
        String[] lora = {"model.model_path=" + base, "model.lora_config.rank=4", "model.lora_config.alpha=8",
            "model.lora_config.lora_modules=q_proj,down_proj,attn.qkv,mlp.fc2", "train.max_steps=6",
            "train.world_size=2", "train.save_steps=3"};
        String[] dropout = concat(lora, "model.lora_config.dropout=0.2");
        Map<Long, StepResult> plain = TestRuns.train(settings(images, "lora-nodrop", lora));
        Map<Long, StepResult> full = TestRuns.train(settings(images, "lora-drop", dropout));
        Map<Long, StepResult> recomputed = TestRuns.train(settings(images, "lora-drop-recompute",
                concat(dropout, "train.enable_gradient_checkpointing=true")));
        assertThrows(Exception.class, () -> TestRuns.train(settings(images, "lora-drop-cut",
                concat(dropout, "debug.fail_at_step=4"))));
        Map<Long, StepResult> resumed = TestRuns.train(settings(images, "lora-drop-cut",
                concat(dropout, "train.load_checkpoint_path=auto")));
        assertEquals(full.keySet(), recomputed.keySet());
        for (long step : full.keySet()) {
            assertEquals(full.get(step).loss(), recomputed.get(step).loss(), 0.0, "recompute: step " + step + " loss");
            assertEquals(full.get(step).gradNorm(), recomputed.get(step).gradNorm(), 0.0, "recompute: step " + step);
            if (step > 3) {
                assertEquals(full.get(step).loss(), resumed.get(step).loss(), 0.0, "resume: step " + step + " loss");
                assertEquals(full.get(step).gradNorm(), resumed.get(step).gradNorm(), 0.0, "resume: step " + step);
            }
        }
        assertEquals(Set.of(4L, 5L, 6L), resumed.keySet());
        // B = 0 at step 1, so the adapters (dropped or not) add nothing yet; from step 2 dropout shows.
        assertEquals(plain.get(1L).loss(), full.get(1L).loss(), 0.0, "step 1 is the base's loss either way");
        assertTrue(Math.abs(full.get(6L).loss() - plain.get(6L).loss()) > 1e-6, "dropout changes the losses: "
                + full.get(6L).loss() + " vs " + plain.get(6L).loss());
        Map<String, float[]> a = tensors(dir.resolve("lora-drop/final_lora").resolve(PeftAdapter.WEIGHTS));
        Map<String, float[]> b = tensors(dir.resolve("lora-drop-cut/final_lora").resolve(PeftAdapter.WEIGHTS));
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name), b.get(name), 0f, "resumed adapter " + name);
        }

        // export-hf --merge-lora rebuilds the qwen2_vl model with its adapters from the checkpoint alone.
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        Path exported = dir.resolve("lora-drop-exported");
        assertEquals(0, MainAccess.run(new String[] {"export-hf", "--checkpoint",
            dir.resolve("lora-drop/checkpoints/global_step_6").toString(), "--out", exported.toString(),
            "--merge-lora"}, new PrintStream(printed)), printed.toString());
        Map<String, float[]> finalHf = weights(hf("lora-drop"));
        Map<String, float[]> merged = weights(exported);
        assertEquals(finalHf.keySet(), merged.keySet());
        for (String name : finalHf.keySet()) {
            assertArrayEquals(finalHf.get(name), merged.get(name), 0f, "export-hf --merge-lora " + name);
        }
    }
}
