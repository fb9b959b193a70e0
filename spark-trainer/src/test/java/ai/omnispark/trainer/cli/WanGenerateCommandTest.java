package ai.omnispark.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.data.latent.ByteTextEmbedder;
import ai.omnispark.data.latent.PixelEncoder;
import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.media.Media;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsReader;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code generate} of a wan folder through Main, on tiny randomly initialised T2V and I2V models:
 * the latents it saves equal an in-process float64 composition written here from the documented
 * contract (noise = Random(seed).nextGaussian() row-major, Wan's shifted Euler grid, CFG against the
 * all-zero empty prompt, I2V input = concat(x, mask 1 on latent frame 0, encoded first frame then
 * zeros)); the MP4 decodes to the requested frames and size and to the pixel encoder's decode of
 * those latents up to the codec's loss; the same seed gives the same video; bad sizes and misplaced
 * options are named.
 */
class WanGenerateCommandTest {
    private static final int C = 4;
    private static final int TEXT_DIM = 6;
    private static final int TEXT_LEN = 24;
    private static final int FRAMES = 5;
    private static final int SIDE = 32;
    private static final int STEPS = 4;
    private static final double GUIDANCE = 3.0;
    private static final double SHIFT = 3.0;
    private static final String PROMPT = "a red circle moves up.";

    @TempDir
    Path tmp;

    @Test
    void textToVideoEqualsAFloat64CompositionAndRepeatsPerSeed() throws Exception {
        Path hf = export(false);
        Path mp4 = tmp.resolve("a.mp4");
        Path latents = tmp.resolve("a.safetensors");
        String printed = ok(generate(hf, mp4, latents, 11, null));
        assertTrue(printed.contains("\"latent_shape\":[4,2,4,4]"), printed);
        float[] got = read(latents);
        double[] expected = composed(hf, false, 11, null);
        assertClose(expected, got, 1e-4);

        // The sampler moved far from the noise: the check above is not noise == noise.
        double moved = 0;
        float[] noise = noise(11, got.length);
        for (int i = 0; i < got.length; i++) {
            moved = Math.max(moved, Math.abs(got[i] - noise[i]));
        }
        assertTrue(moved > 0.1, "latents moved at most " + moved + " from the noise");

        byte[] decoded = new PixelEncoder(C).decode(got, new int[] {C, 2, SIDE / 8, SIDE / 8});
        Media video = mp4Frames(mp4);
        assertEquals(FRAMES, video.frames());
        assertEquals(SIDE, video.height());
        assertEquals(SIDE, video.width());
        assertTrue(BenchVideo.meanAbsoluteError(video.pixels(), decoded, decoded.length) < 6,
                "the MP4 is not the decoded latents up to the codec's loss");

        Path again = tmp.resolve("b.safetensors");
        ok(generate(hf, tmp.resolve("b.mp4"), again, 11, null));
        assertArrayEquals(got, read(again));
        assertArrayEquals(video.pixels(), mp4Frames(tmp.resolve("b.mp4")).pixels());
        Path other = tmp.resolve("c.safetensors");
        ok(generate(hf, tmp.resolve("c.mp4"), other, 12, null));
        assertFalse(java.util.Arrays.equals(got, read(other)), "another seed gave the same latents");
    }

    @Test
    void imageToVideoFeedsTheMaskAndTheEncodedFirstFrame() throws Exception {
        Path hf = export(true);
        BufferedImage image = new BufferedImage(SIDE, SIDE, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < SIDE; y++) {
            for (int x = 0; x < SIDE; x++) {
                image.setRGB(x, y, x < 16 ? 0xDC1E1E : y < 8 ? 0xFFFFFF : 0x1E3CDC);
            }
        }
        Path png = tmp.resolve("first.png");
        ImageIO.write(image, "png", png.toFile());
        Path latents = tmp.resolve("i.safetensors");
        ok(generate(hf, tmp.resolve("i.mp4"), latents, 5, png));
        byte[] rgb = new byte[SIDE * SIDE * 3];
        for (int i = 0; i < SIDE * SIDE; i++) {
            int p = image.getRGB(i % SIDE, i / SIDE);
            rgb[3 * i] = (byte) (p >> 16);
            rgb[3 * i + 1] = (byte) (p >> 8);
            rgb[3 * i + 2] = (byte) p;
        }
        assertClose(composed(hf, true, 5, rgb), read(latents), 1e-4);
        assertEquals(FRAMES, mp4Frames(tmp.resolve("i.mp4")).frames());
    }

    @Test
    void benchScoresWhatGenerateMakesForItsPrompts() throws Exception {
        for (boolean i2v : new boolean[] {false, true}) {
            Path hf = export(i2v);
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            int code = MainAccess.run(new String[] {"bench", i2v ? "i2v" : "t2v", "--model", hf.toString(), "--prompts",
                "3", "--steps", "2", "--frames", "5", "--height", "32", "--width", "32", "--text-len",
                String.valueOf(TEXT_LEN), "--seed", "9", "--threads", "1"}, new PrintStream(printed));
            assertEquals(0, code, printed.toString());
            String line = printed.toString().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow();
            JsonNode bench = new ObjectMapper().readTree(line);
            assertEquals(3, bench.get("examples").size());
            int matched = 0;
            double mae = 0;
            for (int i = 0; i < 3; i++) {
                JsonNode example = bench.get("examples").get(i);
                String prompt = example.get("prompt").asText();
                String[] words = prompt.replace(".", "").split(" ");
                assertEquals(SyntheticText.COLOURS[i % 6], words[2], prompt);
                // The same video again through generate: prompt i with seed 9 + i.
                Path latents = tmp.resolve("bench" + i + ".safetensors");
                List<String> argv = new ArrayList<>(List.of("generate", "--model", hf.toString(), "--prompt", prompt,
                    "--frames", "5", "--height", "32", "--width", "32", "--steps", "2", "--text-len",
                    String.valueOf(TEXT_LEN), "--seed", String.valueOf(9 + i), "--threads", "1", "--save-latents",
                    latents.toString(), "--out", tmp.resolve("bench" + i + ".mp4").toString()));
                byte[] first = null;
                if (i2v) {
                    SyntheticText.Scene scene = new SyntheticText.Scene(words[2], words[3], words[1], words[5]);
                    BufferedImage image = SyntheticSample.frame(scene, 0);
                    Path png = tmp.resolve("bench" + i + ".png");
                    ImageIO.write(image, "png", png.toFile());
                    argv.addAll(List.of("--image", png.toString()));
                    first = ImageDecoder.rgb(image, SIDE, SIDE);
                }
                ok(argv.toArray(String[]::new));
                byte[] rgb = new PixelEncoder(C).decode(read(latents), new int[] {C, 2, SIDE / 8, SIDE / 8});
                int plane = SIDE * SIDE * 3;
                String colour = DominantColour.of(i2v ? java.util.Arrays.copyOfRange(rgb, plane, rgb.length) : rgb);
                assertEquals(colour, example.get("dominant_colour").isNull() ? null
                        : example.get("dominant_colour").asText(), prompt);
                matched += words[2].equals(colour) ? 1 : 0;
                if (i2v) {
                    double error = 0;
                    for (int k = 0; k < plane; k++) {
                        error += Math.abs((rgb[k] & 0xFF) - (first[k] & 0xFF));
                    }
                    assertEquals(error / plane, example.get("frame0_mae").asDouble(), 1e-9, prompt);
                    mae += error / plane / 3;
                }
            }
            assertEquals(matched / 3.0, bench.get("colour_accuracy").asDouble(), 1e-12);
            if (i2v) {
                assertEquals(mae, bench.get("frame0_mae").asDouble(), 1e-9);
            }
        }
    }

    @Test
    void badArgumentsAreNamed() throws Exception {
        Path t2v = export(false);
        Path out = tmp.resolve("x.mp4");
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--frames", "6", "--height", "32", "--width",
            "32", "--out", out.toString()), "--frames must be 4k + 1");
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--frames", "5", "--height", "24", "--width",
            "32", "--out", out.toString()), "--height must be a multiple of 16");
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--frames", "5", "--height", "32", "--width",
            "20", "--out", out.toString()), "--width must be a multiple of 16");
        assertError(List.of("--model", t2v.toString(), "--frames", "5", "--height", "32", "--width", "32", "--out",
            out.toString()), "missing --prompt");
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--adapter", tmp.toString(), "--frames", "5",
            "--height", "32", "--width", "32", "--out", out.toString()), "--lora DIR");
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--lora", tmp.resolve("none").toString(),
            "--frames", "5", "--height", "32", "--width", "32", "--out", out.toString()), "is not a folder");
        Path png = tmp.resolve("p.png");
        ImageIO.write(new BufferedImage(SIDE, SIDE, BufferedImage.TYPE_INT_RGB), "png", png.toFile());
        assertError(List.of("--model", t2v.toString(), "--prompt", "p", "--image", png.toString(), "--frames", "5",
            "--height", "32", "--width", "32", "--out", out.toString()), "--image needs an image-to-video model");
        Path i2v = export(true);
        assertError(List.of("--model", i2v.toString(), "--prompt", "p", "--frames", "5", "--height", "32", "--width",
            "32", "--out", out.toString()), "give its first frame with --image");
        assertError(List.of("--model", i2v.toString(), "--prompt", "p", "--image", tmp.resolve("no.png").toString(),
            "--frames", "5", "--height", "32", "--width", "32", "--out", out.toString()), "is not a file");
        assertFalse(Files.exists(out));
    }

    /** A tiny randomly initialised wan folder (2 blocks, 2 heads of 8, patches 1 x 2 x 2). */
    private Path export(boolean i2v) throws Exception {
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree("""
                {"_class_name":"WanTransformer3DModel","_diffusers_version":"0.33.1","patch_size":[1,2,2],
                 "num_attention_heads":2,"attention_head_dim":8,"in_channels":4,"out_channels":4,"text_dim":6,
                 "freq_dim":8,"ffn_dim":32,"num_layers":2,"cross_attn_norm":true,"qk_norm":"rms_norm_across_heads",
                 "eps":1e-6,"image_dim":null,"added_kv_proj_dim":null,"rope_max_seq_len":1024,"pos_embed_seq_len":null}""");
        config.put("in_channels", i2v ? 2 * C + 4 : C);
        Path hf = tmp.resolve(i2v ? "i2v" : "t2v");
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly a = RankAssembly.of(ModelFamilies.build(config, ModelOptions.defaults()), rank.manager(),
                    DataType.FLOAT32, 7, null, false)) {
                HfCheckpoint.export(a.model(), a.params(), rank.manager(), hf, SafeDType.F32);
            }
        }
        return hf;
    }

    private String[] generate(Path hf, Path mp4, Path latents, long seed, Path image) {
        List<String> argv = new ArrayList<>(List.of("generate", "--model", hf.toString(), "--prompt", PROMPT,
            "--frames", String.valueOf(FRAMES), "--height", String.valueOf(SIDE), "--width", String.valueOf(SIDE),
            "--steps", String.valueOf(STEPS), "--guidance", String.valueOf(GUIDANCE), "--shift", String.valueOf(SHIFT),
            "--seed", String.valueOf(seed), "--text-len", String.valueOf(TEXT_LEN), "--fps", "4", "--threads", "1",
            "--save-latents", latents.toString(), "--out", mp4.toString()));
        if (image != null) {
            argv.addAll(List.of("--image", image.toString()));
        }
        return argv.toArray(String[]::new);
    }

    private static String ok(String[] argv) {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int code = MainAccess.run(argv, new PrintStream(printed));
        assertEquals(0, code, printed.toString());
        return printed.toString();
    }

    private static void assertError(List<String> options, String expected) {
        List<String> argv = new ArrayList<>(List.of("generate"));
        argv.addAll(options);
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        int code = MainAccess.run(argv.toArray(String[]::new), new PrintStream(printed));
        assertEquals(2, code, printed.toString());
        assertTrue(printed.toString().contains(expected), "expected '" + expected + "' in: " + printed);
    }

    /**
     * The sampler and the model composed here in float64: the model's weights widened, Wan's
     * shifted grid, Euler steps and guidance spelled out, the I2V input channels laid out by hand.
     */
    private static double[] composed(Path hf, boolean i2v, long seed, byte[] firstFrame) throws Exception {
        int lf = 2;
        int lh = SIDE / 8;
        int cells = lf * lh * lh;
        double[] x = new double[C * cells];
        float[] noise = noise(seed, x.length);
        for (int i = 0; i < x.length; i++) {
            x[i] = noise[i];
        }
        double[] condition = null;
        if (i2v) {
            float[] first = new PixelEncoder(C).encode(firstFrame, 1, SIDE, SIDE);
            condition = new double[(4 + C) * cells];
            for (int m = 0; m < 4; m++) {
                for (int k = 0; k < lh * lh; k++) {
                    condition[m * cells + k] = 1;
                }
            }
            for (int c = 0; c < C; c++) {
                for (int k = 0; k < lh * lh; k++) {
                    condition[(4 + c) * cells + k] = first[c * lh * lh + k];
                }
            }
        }
        float[] text = new ByteTextEmbedder(TEXT_DIM, TEXT_LEN).embed(PROMPT);
        try (RankContext rank = RankContext.single(1)) {
            rank.bindThread();
            try (RankAssembly a = RankAssembly.of(ModelFamilies.load(hf, ModelOptions.defaults()), rank.manager(),
                    DataType.FLOAT64, 0, null, false)) {
                a.loadHf(hf, rank.manager());
                WanForward forward = new WanForward(a.model());
                double[] sigmas = new double[STEPS + 1];
                for (int i = 0; i <= STEPS; i++) {
                    sigmas[i] = shifted(1 - (double) i / STEPS);
                }
                for (int i = 0; i < STEPS; i++) {
                    float t = (float) (1000 * sigmas[i]);
                    double[] vc = velocity(forward, a, rank.manager(), x, condition, t, text);
                    double[] vu = velocity(forward, a, rank.manager(), x, condition, t, new float[text.length]);
                    for (int k = 0; k < x.length; k++) {
                        x[k] += (sigmas[i + 1] - sigmas[i]) * (vu[k] + GUIDANCE * (vc[k] - vu[k]));
                    }
                }
            }
        }
        return x;
    }

    private static double shifted(double sigma) {
        return SHIFT * sigma / (1 + (SHIFT - 1) * sigma);
    }

    private static double[] velocity(WanForward forward, RankAssembly a, NDManager manager, double[] x,
            double[] condition, float t, float[] text) {
        try (NDManager scope = manager.newSubManager()) {
            int in = condition == null ? C : 2 * C + 4;
            double[] hidden = new double[x.length + (condition == null ? 0 : condition.length)];
            System.arraycopy(x, 0, hidden, 0, x.length);
            if (condition != null) {
                System.arraycopy(condition, 0, hidden, x.length, condition.length);
            }
            double[] widened = new double[text.length];
            for (int k = 0; k < text.length; k++) {
                widened[k] = text[k];
            }
            NDArray v = forward.sample(scope, a.params(), DataType.FLOAT64,
                    scope.create(hidden, new Shape(1, in, 2, SIDE / 8, SIDE / 8)), scope.create(new double[] {t}),
                    scope.create(widened, new Shape(1, TEXT_LEN, TEXT_DIM)), null);
            return v.toDoubleArray();
        }
    }

    private static float[] noise(long seed, int n) {
        Random random = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }

    private static float[] read(Path file) throws Exception {
        try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
            assertArrayEquals(new long[] {C, 2, SIDE / 8, SIDE / 8}, reader.info("latents").shape());
            return reader.readFloats("latents");
        }
    }

    /** Every frame of an MP4 as FFmpeg decodes it, RGB. */
    private static Media mp4Frames(Path mp4) throws Exception {
        List<byte[]> frames = new ArrayList<>();
        int height = 0;
        int width = 0;
        try (FFmpegFrameGrabber grabber = new FFmpegFrameGrabber(mp4.toFile())) {
            grabber.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
            grabber.start();
            Frame frame;
            while ((frame = grabber.grabImage()) != null) {
                // FFmpeg pads rows to its alignment: read each row at the frame's stride.
                height = frame.imageHeight;
                width = frame.imageWidth;
                java.nio.ByteBuffer bgr = (java.nio.ByteBuffer) frame.image[0];
                byte[] rgb = new byte[height * width * 3];
                for (int y = 0; y < height; y++) {
                    for (int x = 0; x < width; x++) {
                        int at = y * frame.imageStride + 3 * x;
                        int to = 3 * (y * width + x);
                        rgb[to] = bgr.get(at + 2);
                        rgb[to + 1] = bgr.get(at + 1);
                        rgb[to + 2] = bgr.get(at);
                    }
                }
                frames.add(rgb);
            }
            grabber.stop();
        }
        byte[] all = new byte[frames.size() * height * width * 3];
        for (int f = 0; f < frames.size(); f++) {
            System.arraycopy(frames.get(f), 0, all, f * height * width * 3, height * width * 3);
        }
        return new Media(all, frames.size(), height, width, 3, 0);
    }

    private static void assertClose(double[] expected, float[] got, double tolerance) {
        assertEquals(expected.length, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], tolerance, "latent " + i);
        }
    }
}
