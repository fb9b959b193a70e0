package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.data.tokenizer.ByteTokenizer;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.vlm.VlmBatch;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code score --pixel-values}: a file holding the pixel_values and image_grid_thw the family's
 * collator makes from an image (the HF processor's layout) scores the row as the model's own
 * forward over the collator's batch does; bad files and mismatches exit 2 naming what is wrong.
 */
class ScorePixelValuesTest {
    @TempDir
    static Path tmp;
    static Path model;
    static int[] ids;
    static float[] pixels;
    static long[] grid;
    static double[] expected;

    @BeforeAll
    static void exportModelAndReference() throws Exception {
        model = tmp.resolve("hf");
        Files.createDirectories(model);
        try (RankContext rank = RankContext.single(1);
                RankAssembly loaded = RankAssembly.of(ModelFamilies.load(Path.of("..", "conf", "models",
                        "tiny-qwen2vl.json"), ModelOptions.defaults()), rank.manager(), DataType.FLOAT32, 5, null,
                        false)) {
            rank.bindThread();
            HfCheckpoint.write(loaded.model(), HfCheckpoint.weights(loaded.model(), loaded.params(), rank.manager(),
                    SafeDType.F32), SafeDType.F32, new ByteTokenizer().hfFiles(),
                    name -> Files.newOutputStream(model.resolve(name)));
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        // Not square, so h != w in the grid: 112 x 112 resized stays square; crop the frame to 112 x 84.
        ImageIO.write(SyntheticSample.frame(new SyntheticText.Scene("green", "triangle", "large", "up"), 0)
                .getSubimage(0, 0, 112, 84), "png", png);
        Sample row = ImagePrompt.of(model).sample(png.toByteArray(), new ByteTokenizer().encode("a large green"),
                "test image");
        ids = row.ints(Sample.INPUT_IDS);
        try (RankContext rank = RankContext.single(1);
                RankAssembly loaded = RankAssembly.fromHf(model, ModelOptions.defaults(), rank.manager(),
                        DataType.FLOAT32)) {
            rank.bindThread();
            Model m = loaded.model();
            expected = ScoreCommand.logprobs(m, loaded.params(), rank.manager(), ids, scope -> {
                Batch batch = m.collator().collate(scope, List.of(row), DataType.FLOAT32, null);
                pixels = batch.get(VlmBatch.PIXEL_VALUES).toFloatArray();
                grid = batch.get(VlmBatch.GRID_THW).toLongArray();
                return batch;
            });
        }
        assertEquals(3, grid.length);
        assertEquals(3 * 2 * 14 * 14 * grid[0] * grid[1] * grid[2], pixels.length);
    }

    @Test
    void scoresAsTheCollatorsBatchDoes() throws Exception {
        Path file = write("good.safetensors", pixels, new long[] {pixels.length / (3 * 2 * 14 * 14), 3 * 2 * 14 * 14},
                grid, new long[] {1, 3});
        JsonNode result = run(0, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                file.toString(), "--threads", "1");
        assertEquals(ids.length, result.get("ids").size());
        assertTrue(result.get("logprobs").get(0).isNull());
        for (int t = 1; t < ids.length; t++) {
            assertEquals(expected[t], result.get("logprobs").get(t).asDouble(), 1e-6, "position " + t);
        }
        // The image matters: other pixels give other log-probs after the image.
        float[] other = pixels.clone();
        for (int i = 0; i < other.length; i++) {
            other[i] = -other[i];
        }
        Path flipped = write("flipped.safetensors", other, new long[] {pixels.length / 1176, 1176}, grid,
                new long[] {1, 3});
        JsonNode changed = run(0, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                flipped.toString(), "--threads", "1");
        int last = ids.length - 1;
        assertTrue(Math.abs(changed.get("logprobs").get(last).asDouble() - expected[last]) > 1e-6);
    }

    @Test
    void badFilesAreNamed() throws Exception {
        long rows = pixels.length / 1176;
        Path noGrid = tmp.resolve("nogrid.safetensors");
        new SafeTensorsWriter().add("pixel_values", SafeDType.F32, new long[] {rows, 1176}, floats(pixels))
                .write(noGrid);
        assertTrue(runText(2, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                noGrid.toString()).contains("has no tensor 'image_grid_thw'"));
        long[] wrongGrid = {grid[0], grid[1], grid[2] + 2};
        Path mismatched = write("mismatch.safetensors", pixels, new long[] {rows, 1176}, wrongGrid, new long[] {1, 3});
        assertTrue(runText(2, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                mismatched.toString()).contains("patches (sum of t·h·w) but pixel_values has " + rows + " rows"));
        Path wideRows = write("wide.safetensors", Arrays.copyOf(pixels, (int) rows * 1000), new long[] {rows, 1000},
                grid, new long[] {1, 3});
        assertTrue(runText(2, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                wideRows.toString()).contains("1176 floats per row"));
        Path good = write("good2.safetensors", pixels, new long[] {rows, 1176}, grid, new long[] {1, 3});
        int[] textOnly = new ByteTokenizer().encode("a large green");
        assertTrue(runText(2, "score", "--model", model.toString(), "--ids", csv(textOnly), "--pixel-values",
                good.toString()).contains("does not fit --ids"));
        assertTrue(runText(2, "score", "--model", model.toString(), "--ids", csv(ids), "--pixel-values",
                tmp.resolve("absent.safetensors").toString()).contains("is not a file"));
    }

    private static Path write(String name, float[] values, long[] shape, long[] thw, long[] gridShape)
            throws Exception {
        ByteBuffer g = ByteBuffer.allocate(thw.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : thw) {
            g.putLong(v);
        }
        Path file = tmp.resolve(name);
        new SafeTensorsWriter().add("pixel_values", SafeDType.F32, shape, floats(values))
                .add("image_grid_thw", SafeDType.I64, gridShape, g.flip()).write(file);
        return file;
    }

    private static ByteBuffer floats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }

    private static String csv(int[] values) {
        return Arrays.stream(values).mapToObj(String::valueOf).collect(Collectors.joining(","));
    }

    private static JsonNode run(int expectedExit, String... argv) throws Exception {
        String text = runText(expectedExit, argv);
        String[] lines = text.strip().split("\n");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }

    private static String runText(int expectedExit, String... argv) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(expectedExit, code, text);
        return text;
    }
}
