package ai.omnispark.trainer.cli;

import ai.djl.ndarray.types.DataType;
import ai.omnispark.data.latent.PixelEncoder;
import ai.omnispark.data.media.ImageDecoder;
import ai.omnispark.data.sample.SyntheticSample;
import ai.omnispark.data.sample.SyntheticText;
import ai.omnispark.models.wan.WanForward;
import ai.omnispark.parallel.runtime.RankContext;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code bench t2v|i2v --model WAN_DIR [--lora DIR] [--prompts 20] [--frames 5] [--height 112]
 * [--width 112] [--steps 30] [--guidance 5.0] [--shift 5.0] [--seed S] [--text-len 512] [--threads T]}:
 * what a wan model trained on {@code sample}'s videos generates for prompts of the sample's
 * vocabulary. Prompt i has colour i mod 6 and a shape, size and direction drawn from {@code --seed}
 * (captions as the sample writes them, "a large red circle moves left."), and is sampled with seed
 * {@code --seed} + i through {@code generate}'s code ({@link WanGenerate#generate}).
 *
 * <p>t2v prints the fraction of videos whose dominant non-white colour ({@link DominantColour}, over
 * all frames) is the prompt's. i2v gives each prompt's scene at t = 0, rendered as the sample
 * renders it, as the first frame and prints the mean absolute pixel error (0–255, over all pixels and
 * channels) of generated frame 0 against it, next to the pixel encoder's own round trip error
 * (encode then decode of that image: the floor, since latents hold one colour per 8 × 8 block), and
 * the colour accuracy of frames 1.. (the frames the model made up). Frames are compared as decoded,
 * before any MP4 encoding.
 */
final class BenchVideo {
    static final long DEFAULT_SEED = 20261130L;
    private static final int EXAMPLES = 6;

    private BenchVideo() {}

    static int run(String[] argv, PrintStream out, boolean imageToVideo) throws Exception {
        Args args = Args.parse(argv, 0, List.of("model", "lora", "prompts", "frames", "height", "width", "steps",
                "guidance", "shift", "seed", "text-len", "threads"));
        Path dir = Path.of(args.required("model"));
        AdapterOption lora = AdapterOption.of(args, "lora");
        int prompts = args.positiveInt("prompts", "20");
        int frames = args.positiveInt("frames", "5");
        int height = args.positiveInt("height", String.valueOf(SyntheticSample.SIDE));
        int width = args.positiveInt("width", String.valueOf(SyntheticSample.SIDE));
        int steps = args.positiveInt("steps", "30");
        int textLen = args.positiveInt("text-len", String.valueOf(WanGenerate.DEFAULT_TEXT_LEN));
        int threads = args.positiveInt("threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        double guidance = WanGenerate.number(args, "guidance", "5.0");
        double shift = WanGenerate.number(args, "shift", "5.0");
        long seed;
        try {
            seed = Long.parseLong(args.option("seed", String.valueOf(DEFAULT_SEED)));
        } catch (NumberFormatException e) {
            throw new ConfigException("--seed must be an integer, got '" + args.options.get("seed") + "'");
        }
        SplittableRandom draws = new SplittableRandom(seed);
        int matched = 0;
        double frameZeroError = 0;
        double encoderError = 0;
        ArrayNode examples = new ObjectMapper().createArrayNode();
        long started = System.nanoTime();
        try (RankContext rank = RankContext.single(threads)) {
            rank.bindThread();
            try (RankAssembly loaded = RankAssembly.of(AdapterOption.model(dir, lora), rank.manager(),
                    DataType.FLOAT32, 0, null, false)) {
                WanForward forward = WanGenerate.forward(loaded, dir);
                AdapterOption.load(loaded, dir, lora, rank.manager());
                for (int i = 0; i < prompts; i++) {
                    SyntheticText.Scene drawn = SyntheticText.scene(draws);
                    SyntheticText.Scene scene = new SyntheticText.Scene(
                            SyntheticText.COLOURS[i % SyntheticText.COLOURS.length], drawn.shape(), drawn.size(),
                            drawn.motion());
                    byte[] first = imageToVideo
                            ? ImageDecoder.rgb(SyntheticSample.frame(scene, 0), height, width) : null;
                    WanGenerate.Request request = new WanGenerate.Request(scene.motionCaption(), first, frames, height,
                            width, steps, guidance, shift, seed + i, textLen);
                    WanGenerate.check(forward.config(), request);
                    WanGenerate.Video video = WanGenerate.generate(forward, loaded.params(), rank.manager(), request);
                    int plane = height * width * 3;
                    byte[] judged = imageToVideo && frames > 1
                            ? java.util.Arrays.copyOfRange(video.rgb(), plane, video.rgb().length) : video.rgb();
                    String colour = DominantColour.of(judged);
                    boolean hit = scene.colour().equals(colour);
                    matched += hit ? 1 : 0;
                    ObjectNode example = new ObjectMapper().createObjectNode();
                    example.put("prompt", scene.motionCaption());
                    example.put("dominant_colour", colour);
                    if (imageToVideo) {
                        PixelEncoder encoder = new PixelEncoder(forward.config().outChannels());
                        byte[] roundTrip = encoder.decode(encoder.encode(first, 1, height, width),
                                encoder.latentShape(1, height, width));
                        double error = meanAbsoluteError(video.rgb(), first, plane);
                        frameZeroError += error;
                        encoderError += meanAbsoluteError(roundTrip, first, plane);
                        example.put("frame0_mae", error);
                    }
                    if (examples.size() < EXAMPLES) {
                        examples.add(example);
                    }
                }
            }
        }
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("bench", imageToVideo ? "i2v" : "t2v");
        o.put("model", dir.toString());
        o.put("prompts", prompts);
        o.put("frames", frames);
        o.put("height", height);
        o.put("width", width);
        o.put("steps", steps);
        o.put("guidance", guidance);
        o.put("shift", shift);
        o.put("colour_accuracy", matched / (double) prompts);
        if (imageToVideo) {
            o.put("frame0_mae", frameZeroError / prompts);
            o.put("encoder_round_trip_mae", encoderError / prompts);
        }
        o.put("seconds", (System.nanoTime() - started) / 1e9);
        o.set("examples", examples);
        out.println(new ObjectMapper().writeValueAsString(o));
        return 0;
    }

    /** Mean |a − b| over the first {@code n} bytes, as unsigned 0–255 values. */
    static double meanAbsoluteError(byte[] a, byte[] b, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.abs((a[i] & 0xFF) - (b[i] & 0xFF));
        }
        return sum / (double) n;
    }
}
