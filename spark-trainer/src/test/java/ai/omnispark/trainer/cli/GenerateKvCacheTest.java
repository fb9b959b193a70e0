package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.api.Sample;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.job.RankAssembly;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * Greedy decoding with the key/value cache against the same decoding re-running the whole prefix
 * per token (the reference: the evaluation forward over the full row, M-RoPE positions and media
 * included): the same tokens and, at every step, logits within 1e-5; for a dense decoder, a MoE
 * decoder and Qwen2-VL with an image.
 */
class GenerateKvCacheTest {
    private static final int NEW_TOKENS = 10;
    private static final double TOLERANCE = 1e-5;
    private static final Path MODELS = Path.of("..", "conf", "models");

    @Test
    void denseDecoderCachedEqualsFullPrefix() throws Exception {
        check("tiny-qwen3.json", null);
    }

    @Test
    void moeDecoderCachedEqualsFullPrefix() throws Exception {
        check("tiny-qwen3-moe.json", null);
    }

    @Test
    void qwen2VlWithAnImageCachedEqualsFullPrefix() throws Exception {
        ImagePrompt layout = ImagePrompt.of(MODELS.resolve("tiny-qwen2vl.json"));
        Sample red = layout.sample(png(new SyntheticText.Scene("red", "circle", "large", "left")),
                new int[] {97, 32}, "red");
        // vision_start, (112/28)^2 = 16 placeholders, vision_end, then "a ".
        int[] ids = red.ints(Sample.INPUT_IDS);
        assertEquals(2 + 16 + 2, ids.length);
        assertEquals(261, ids[0]);
        assertEquals(259, ids[1]);
        assertEquals(262, ids[17]);
        float[] redFirst = check("tiny-qwen2vl.json", red);
        Sample blue = layout.sample(png(new SyntheticText.Scene("blue", "square", "small", "left")),
                new int[] {97, 32}, "blue");
        float[] blueFirst = check("tiny-qwen2vl.json", blue);
        // The image reaches the logits: the two prompts differ only in their pixels.
        double diff = 0;
        for (int v = 0; v < redFirst.length; v++) {
            diff = Math.max(diff, Math.abs(redFirst[v] - blueFirst[v]));
        }
        assertTrue(diff > 1e-4, "the first step's logits do not depend on the image (max diff " + diff + ")");
    }

    /** Decodes {@code prompt} (or a fixed token prompt) both ways; returns the first step's logits. */
    private static float[] check(String config, Sample prompt) throws Exception {
        try (RankContext rank = RankContext.single(1);
                RankAssembly loaded = RankAssembly.of(ModelFamilies.load(MODELS.resolve(config),
                        ModelOptions.defaults()), rank.manager(), DataType.FLOAT32, 11, null, false)) {
            rank.bindThread();
            assertNotNull(loaded.model().cachedDecoding(), config + " offers no cached decoding");
            Sample row = prompt != null ? prompt : ImagePrompt.withIds(Sample.tokens(new int[0], new int[0],
                    new int[0], new int[0]), new int[] {97, 32, 114, 101, 100, 32, 115});
            GenerateCommand.Greedy cached = GenerateCommand.greedy(loaded.model(), loaded.params(), rank.manager(),
                    row, NEW_TOKENS, -1, true);
            GenerateCommand.Greedy full = GenerateCommand.greedy(loaded.model(), loaded.params(), rank.manager(),
                    row, NEW_TOKENS, -1, false);
            assertArrayEquals(full.ids(), cached.ids(), config);
            assertEquals(NEW_TOKENS, cached.stepLogits().size());
            for (int step = 0; step < NEW_TOKENS; step++) {
                float[] a = cached.stepLogits().get(step);
                float[] b = full.stepLogits().get(step);
                assertEquals(b.length, a.length);
                for (int v = 0; v < a.length; v++) {
                    assertEquals(b[v], a[v], TOLERANCE, config + " step " + step + " token " + v);
                }
            }
            return cached.stepLogits().get(0);
        }
    }

    private static byte[] png(SyntheticText.Scene scene) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(SyntheticSample.frame(scene, 0), "png", bytes);
        return bytes.toByteArray();
    }
}
