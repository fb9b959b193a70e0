package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.data.latent.ByteTextEmbedder;
import ai.omnispark.data.latent.PixelEncoder;
import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.media.Mp4Writer;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.models.wan.FlowSampler;
import ai.omnispark.models.wan.WanCollator;
import ai.omnispark.models.wan.WanConfig;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.parallel.engine.UnitParams;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.parallel.safetensors.SafeDType;
import ai.omnispark.parallel.safetensors.SafeTensorsWriter;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * {@code generate --model DIR [--lora ADAPTER_DIR] --prompt TEXT [--image FIRST_FRAME.png] --frames N
 * --height H --width W [--steps 30] [--guidance 5.0] [--shift 5.0] [--seed 0] [--fps 16] [--text-len 512]
 * [--save-latents FILE.safetensors] --out OUT.mp4} for a wan (diffusion transformer) folder: text to
 * video, or with {@code --image} image to video.
 *
 * <p>The prompt is embedded by the byte-level text embedder the prepare step uses
 * ({@link ByteTextEmbedder}, default seed, the model's text_dim, {@code --text-len} rows as
 * {@code data.text_embed_len}); the empty prompt (zeros) is the unconditional side of
 * classifier-free guidance, as text dropout trained it. The noise, (C, F', H', W') with
 * F' = 1 + (N − 1)/4, H' = H/8, W' = W/8, is {@code java.util.Random(seed).nextGaussian()} in
 * row-major order; {@link FlowSampler} integrates it with {@link WanForward} as the velocity, and
 * {@link PixelEncoder#decode} turns the latents into N frames written as an MP4 ({@link Mp4Writer}).
 * Image to video encodes the first frame with {@link PixelEncoder#encodeCondition} and feeds the
 * mask and condition channels the training collator builds ({@link WanCollator#conditionChannels}).
 */
final class WanGenerate {
    static final List<String> OPTIONS = List.of("model", "lora", "adapter", "prompt", "image", "frames", "height", "width",
            "steps", "guidance", "shift", "seed", "fps", "text-len", "save-latents", "out", "threads");
    static final int DEFAULT_TEXT_LEN = 512;

    private WanGenerate() {}

    /** What to generate. {@code firstFrame} is (height, width, 3) RGB for image to video, else null. */
    record Request(String prompt, byte[] firstFrame, int frames, int height, int width, int steps, double guidance,
            double shift, long seed, int textLen) {}

    /** Generated frames (frames, height, width, 3) RGB and the latents (C, F', H', W') they decode from. */
    record Video(byte[] rgb, int frames, int height, int width, float[] latents, int[] latentShape) {}

    static int run(String[] argv, PrintStream out) throws Exception {
        Args args = Args.parse(argv, 0, OPTIONS);
        Path dir = Path.of(args.required("model"));
        if (args.options.containsKey("adapter")) {
            throw new ConfigException("a wan model takes its LoRA adapter as --lora DIR");
        }
        AdapterOption lora = AdapterOption.of(args, "lora");
        Path output = Path.of(args.required("out"));
        int frames = args.positiveInt("frames", "81");
        int height = args.positiveInt("height", "480");
        int width = args.positiveInt("width", "832");
        int steps = args.positiveInt("steps", "30");
        double guidance = number(args, "guidance", "5.0");
        double shift = number(args, "shift", String.valueOf(5.0));
        double fps = number(args, "fps", "16");
        long seed = longOption(args, "seed", "0");
        int textLen = args.positiveInt("text-len", String.valueOf(DEFAULT_TEXT_LEN));
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        String prompt = args.required("prompt");
        byte[] first = null;
        if (args.options.containsKey("image")) {
            first = firstFrame(Path.of(args.options.get("image")), height, width);
        }
        Request request = new Request(prompt, first, frames, height, width, steps, guidance, shift, seed, textLen);
        Video video;
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.of(AdapterOption.model(dir, lora), rank.manager(),
                    DataType.FLOAT32, 0, null, false)) {
                WanForward forward = forward(loaded, dir);
                check(forward.config(), request);
                AdapterOption.load(loaded, dir, lora, rank.manager());
                video = generate(forward, loaded.params(), rank.manager(), request);
            }
        }
        if (output.getParent() != null) {
            Files.createDirectories(output.getParent());
        }
        Mp4Writer.write(output, video.rgb(), video.frames(), video.height(), video.width(), fps);
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("out", output.toString());
        o.put("frames", video.frames());
        o.put("height", video.height());
        o.put("width", video.width());
        int[] ls = video.latentShape();
        o.putArray("latent_shape").add(ls[0]).add(ls[1]).add(ls[2]).add(ls[3]);
        o.put("steps", steps);
        o.put("guidance", guidance);
        o.put("shift", shift);
        o.put("seed", seed);
        o.put("image_to_video", first != null);
        if (args.options.containsKey("save-latents")) {
            Path latents = Path.of(args.options.get("save-latents"));
            saveLatents(latents, video);
            o.put("latents", latents.toString());
        }
        out.println(new ObjectMapper().writeValueAsString(o));
        return 0;
    }

    /** The DiT forward of a loaded wan folder; a clear error for another family. */
    static WanForward forward(RankAssembly loaded, Path dir) {
        if (!"wan".equals(loaded.model().family())) {
            throw new ConfigException(dir + " is a " + loaded.model().family() + " model, not a diffusion transformer");
        }
        return new WanForward(loaded.model());
    }

    /**
     * Refuses, naming the option, sizes the model and the pixel encoder cannot take: frames not
     * 4k + 1, sizes not a multiple of 8 × the patch, an image-to-video model without an image
     * (or the reverse), a model that needs CLIP image embeddings.
     */
    static void check(WanConfig config, Request r) {
        int[] patch = config.patchSize();
        int c = config.outChannels();
        boolean i2v = config.inChannels() == 2 * c + WanCollator.MASK_CHANNELS;
        if (!i2v && config.inChannels() != c) {
            throw new ConfigException("this model's in_channels " + config.inChannels() + " is neither out_channels "
                    + c + " (text to video) nor 2 x " + c + " + " + WanCollator.MASK_CHANNELS + " (image to video)");
        }
        if (c < 3) {
            throw new ConfigException("the pixel encoder needs latents of >= 3 channels; this model has " + c);
        }
        if (config.isImageToVideo()) {
            throw new ConfigException("this image-to-video model takes CLIP image embeddings (added_kv_proj_dim "
                    + "is set), which generate has no encoder for; it samples models without added_kv_proj_dim");
        }
        if (i2v && r.firstFrame() == null) {
            throw new ConfigException("this is an image-to-video model (in_channels " + config.inChannels()
                    + " = 2 x " + c + " + 4): give its first frame with --image FIRST_FRAME.png");
        }
        if (!i2v && r.firstFrame() != null) {
            throw new ConfigException("--image needs an image-to-video model; this one is text to video (in_channels "
                    + config.inChannels() + ")");
        }
        if ((r.frames() - 1) % PixelEncoder.TEMPORAL != 0 || ((r.frames() - 1) / PixelEncoder.TEMPORAL + 1) % patch[0] != 0) {
            throw new ConfigException("--frames must be 4k + 1 (1, 5, 9, ..., 81: the first frame, then 4 per latent "
                    + "frame)" + (patch[0] > 1 ? " with 1 + k a multiple of the temporal patch " + patch[0] : "")
                    + ", got " + r.frames());
        }
        size("height", r.height(), PixelEncoder.SPATIAL * patch[1]);
        size("width", r.width(), PixelEncoder.SPATIAL * patch[2]);
        if (!(r.shift() > 0 && r.shift() < Double.POSITIVE_INFINITY)) {
            throw new ConfigException("--shift must be a finite number > 0, got " + r.shift());
        }
        if (!Double.isFinite(r.guidance())) {
            throw new ConfigException("--guidance must be finite, got " + r.guidance());
        }
    }

    private static void size(String name, int value, int multiple) {
        if (value % multiple != 0) {
            throw new ConfigException("--" + name + " must be a multiple of " + multiple + " (8 pixels per latent cell "
                    + "x the patch of " + multiple / PixelEncoder.SPATIAL + "), got " + value);
        }
    }

    /**
     * Samples the request with {@code params}' weights; arrays live in sub-managers of
     * {@code manager} and are closed before returning.
     */
    static Video generate(WanForward forward, UnitParams params, NDManager manager, Request r) {
        WanConfig config = forward.config();
        int c = config.outChannels();
        int[] latentShape = {c, 1 + (r.frames() - 1) / PixelEncoder.TEMPORAL, r.height() / PixelEncoder.SPATIAL,
            r.width() / PixelEncoder.SPATIAL};
        PixelEncoder encoder = new PixelEncoder(c);
        ByteTextEmbedder embedder = new ByteTextEmbedder(config.textDim(), r.textLen());
        long elems = (long) c * latentShape[1] * latentShape[2] * latentShape[3];
        float[] noise = new float[Math.toIntExact(elems)];
        Random random = new Random(r.seed());
        for (int i = 0; i < noise.length; i++) {
            noise[i] = (float) random.nextGaussian();
        }
        Shape textShape = new Shape(1, r.textLen(), config.textDim());
        try (NDManager scope = manager.newSubManager()) {
            NDArray text = Ops.owned(scope.create(embedder.embed(r.prompt()), textShape), DataType.FLOAT32);
            NDArray empty = scope.zeros(textShape, DataType.FLOAT32);
            NDArray condition = null;
            if (r.firstFrame() != null) {
                float[] cond = encoder.encodeCondition(r.firstFrame(), r.height(), r.width(), latentShape[1]);
                condition = Ops.owned(scope.create(WanCollator.conditionChannels(cond, latentShape),
                        new Shape(1, c + WanCollator.MASK_CHANNELS, latentShape[1], latentShape[2], latentShape[3])),
                        DataType.FLOAT32);
            }
            NDArray conditionChannels = condition;
            FlowSampler sampler = new FlowSampler(r.steps(), r.shift(), r.guidance());
            NDArray x0 = Ops.owned(scope.create(noise, new Shape(1, latentShape[0], latentShape[1], latentShape[2],
                    latentShape[3])), DataType.FLOAT32);
            NDArray sample = sampler.sample(x0, (x, t, conditional) -> {
                NDManager step = x.getManager();
                NDArray hidden = conditionChannels == null ? x : NDArrays.concat(new NDList(x, conditionChannels), 1);
                NDArray timestep = step.full(new Shape(1), t, DataType.FLOAT32);
                return forward.sample(step, params, DataType.FLOAT32, hidden, timestep, conditional ? text : empty,
                        null);
            });
            float[] latents = sample.toFloatArray();
            byte[] rgb = encoder.decode(latents, latentShape);
            return new Video(rgb, r.frames(), r.height(), r.width(), latents, latentShape);
        }
    }

    /** The PNG (or other ImageIO image) at {@code file} as (height, width, 3) RGB, resized when its size differs. */
    static byte[] firstFrame(Path file, int height, int width) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("--image " + file + " is not a file");
        }
        BufferedImage image = ImageIO.read(file.toFile());
        if (image == null) {
            throw new ConfigException("--image " + file + " is no image ImageIO reads (PNG, JPEG, BMP, GIF)");
        }
        return ImageDecoder.rgb(image, height, width);
    }

    private static void saveLatents(Path file, Video video) throws IOException {
        float[] values = video.latents();
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        int[] s = video.latentShape();
        new SafeTensorsWriter().add("latents", SafeDType.F32, new long[] {s[0], s[1], s[2], s[3]}, bytes).write(file);
    }

    static double number(Args args, String name, String fallback) {
        String text = args.option(name, fallback);
        try {
            return Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " must be a number, got '" + text + "'");
        }
    }

    private static long longOption(Args args, String name, String fallback) {
        String text = args.option(name, fallback);
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " must be an integer, got '" + text + "'");
        }
    }
}
