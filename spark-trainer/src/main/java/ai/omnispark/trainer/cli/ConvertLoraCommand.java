package ai.omnispark.trainer.cli;

import ai.omnispark.models.wan.WanLoraConvert;
import ai.omnispark.trainer.config.ConfigException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code convert-lora IN.safetensors [--alpha A --rank R]}: a Wan LoRA adapter (a LoRA run's
 * {@code hf_ckpt/diffusion_pytorch_model.safetensors} or {@code final_lora/adapter_model.safetensors})
 * into the original Wan inference side's form, {@code <stem>_styleB.safetensors} beside it
 * ({@link WanLoraConvert}). Prints the output's path alone on stdout, so a script can take it, and
 * what was done on stderr. Local files.
 */
final class ConvertLoraCommand {
    private ConvertLoraCommand() {}

    static int run(String[] argv, PrintStream out, PrintStream err) throws IOException {
        Args args = Args.parse(argv, 0, List.of("alpha", "rank"));
        if (args.positional.size() != 1) {
            throw new ConfigException("convert-lora takes one IN.safetensors (a Wan LoRA adapter), got "
                    + args.positional);
        }
        Integer rank = args.options.containsKey("rank") ? args.positiveInt("rank", null) : null;
        Double alpha = args.options.containsKey("alpha") ? positiveNumber(args.options.get("alpha"), "alpha") : null;
        WanLoraConvert.Result result = WanLoraConvert.convert(Path.of(args.positional.get(0)), rank, alpha);
        err.println("convert-lora: " + result.tensors() + " tensors" + (result.renamed() ? " renamed from diffusers "
                + "names," : "") + " lora_B scaled by alpha/r = " + result.scale().alpha() + "/" + result.scale().rank()
                + " (" + result.scale().source() + ")");
        out.println(result.output());
        return 0;
    }

    private static double positiveNumber(String text, String name) {
        double v;
        try {
            v = Double.parseDouble(text.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--" + name + " must be a number, got '" + text + "'");
        }
        if (!(v > 0 && v < Double.POSITIVE_INFINITY)) {
            throw new ConfigException("--" + name + " must be a finite number > 0, got " + text);
        }
        return v;
    }
}
