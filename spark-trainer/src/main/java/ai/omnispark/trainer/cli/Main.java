package ai.omnispark.trainer.cli;

import ai.omnispark.trainer.config.ConfigException;
import java.io.PrintStream;
import java.util.Arrays;

/** {@code bin/omnispark}: one entry point, one subcommand per job. */
public final class Main {
    private Main() {}

    static final String USAGE = String.join("\n",
            "usage: bin/omnispark COMMAND [ARGS]",
            "  train CONFIG [--set key=value ...]      train a model (docs/config.md lists the keys)",
            "  score --model HF_DIR [--adapter ADAPTER_DIR] (--text T | --ids 1,2,3) [--tokenizer byte|FILE]",
            "        [--pixel-values F.safetensors]   log-prob of each token given its prefix; --adapter: a PEFT",
            "                                          LoRA adapter on top of the base, unmerged; --pixel-values:",
            "                                          a VLM's images as HF's processor returns them (docs/vlm.md)",
            "  generate --model HF_DIR [--adapter ADAPTER_DIR] (--text T | --ids 1,2,3 | --image PNG [--prompt T])",
            "           [--max-new-tokens N] [--kv-cache true|false]   greedy continuation with a key/value cache;",
            "                                          --image: a VLM's caption of the image after --prompt",
            "  generate --model WAN_DIR [--lora ADAPTER_DIR] --prompt T [--image FIRST_FRAME.png] --frames 4k+1",
            "           --height H --width W [--steps 30] [--guidance 5.0] [--shift 5.0] [--seed K] [--fps 16]",
            "           [--text-len 512] [--save-latents F.safetensors] --out OUT.mp4   a video from a wan model",
            "                                          (Euler flow sampler, classifier-free guidance; docs/wan.md)",
            "  export-hf --checkpoint CKPT_DIR --out DIR [--merge-lora] [--tokenizer byte|FILE]",
            "                                          a global_step_N (any rank count) as a HF folder; a LoRA",
            "                                          checkpoint: --merge-lora merges the adapters into the",
            "                                          weights, else base weights + PEFT adapter files",
            "  convert-lora IN.safetensors [--alpha A --rank R]   a Wan LoRA adapter (hf_ckpt/ or PEFT form) in",
            "                                          the original inference naming, diffusion_model.blocks.N...,",
            "                                          alpha/r folded into lora_B; writes IN_styleB.safetensors",
            "                                          beside it and prints its path (docs/wan.md)",
            "  forward --model DIR --input IN.safetensors --out OUT.safetensors",
            "                                          one DiT forward of a diffusers (wan) folder on diffusers'",
            "                                          arguments (hidden_states, timestep, encoder_hidden_states",
            "                                          [, encoder_hidden_states_image]); writes sample (F32)",
            "  plan CONFIG --world N [--memory-gb M] [--hardware FILE] [--micro-batch 1,2,4] [--recompute none,block]",
            "       [--seq-len L] [--latent C,F,H,W] [--steps N] [--warmup N] [--repeats R] [--validate K]",
            "       [--in-process]",
            "                                          rank dp_replicate x dp_shard x sp x ep x recompute x micro-batch",
            "                                          plans by predicted step time and per-rank memory; --hardware:",
            "                                          a device profile (conf/hardware) for clusters not this one",
            "                                          (docs/plan.md); exit 3 when no plan fits; each measurement",
            "                                          in a JVM of its own unless --in-process",
            "  prepare CONFIG [--set key=value ...]    only the prepare step: raw data -> Arrow shards + manifest",
            "  pipeline CONFIG [--set key=value ...]   prepare + train + export, rerun-safe; exit codes in docs/pipelines.md",
            "  sample --out DIR [--documents N] [--media M]   synthetic text, image-text and video-text samples",
            "  report RUN_DIR                          write RUN_DIR/report.html: curves, checkpoints, config",
            "  bench train --config CONFIG [--seq-len N] [--profile DIR]",
            "                                          time training steps and peak memory against PyTorch",
            "  bench data [--dir DIR] [--samples N]    prepare throughput per modality, then the shard reader",
            "  bench fsdp --config CONFIG [--world 1,2,4] [--steps N] [--threads T]   per-rank state and held tensor bytes,",
            "                                          checkpoint snapshot heap, step time, async vs sync save;",
            "                                          a LoRA config is also compared with its full fine-tune",
            "  bench parallel --config CONFIG [--sp 1,2,4] [--ep 1,2,4] [--world N] [--steps N] [--threads T]",
            "                 [--memory-budget-mb M] [--seq-len L]   per Ulysses / expert-parallel size: step time,",
            "                                          measured activation bytes, state and expert state bytes",
            "                                          per rank, which sizes fit the budget (docs/performance.md)",
            "  bench recompute --config CONFIG [--budget-mb M] [--steps N] [--repeats R] [--seq-len L]",
            "                                          train.recompute none / block / roi on one rank: step time,",
            "                                          activation peak, recompute ratio (docs/recompute.md)",
            "  bench comm [--transport tcp|uds|inproc] [--world N] [--op OP] [--sizes 1M,16M,64M]",
            "                                          time collectives; JSON lines (docs/comm.md)",
            "  bench attention [--seq 512,1024,2048] [--impls eager,sdpa,chunked] [--kv-heads N]",
            "                                          attention forward+backward per kernel (docs/performance.md)",
            "  bench caption --model HF_DIR [--images 50] [--seed S] [--sample-seed 42] [--prompt T]",
            "                                          a VLM's colour / shape accuracy on fresh sample images",
            "  bench t2v|i2v --model WAN_DIR [--prompts 20] [--steps 30] [--guidance 5.0] [--seed S]",
            "                                          a wan model's videos for sample prompts: colour accuracy;",
            "                                          i2v: frame 0's mean absolute error vs the given image",
            "  help                                    this text");

    public static void main(String[] argv) {
        int code = run(argv, System.out, System.err);
        // Spark 3.5 leaves a non-daemon timer thread behind, so exit explicitly.
        System.exit(code);
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0) {
            err.println(USAGE);
            return 2;
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        try {
            switch (argv[0]) {
                case "train":
                    return TrainCommand.run(rest, out, err);
                case "score":
                    return ScoreCommand.run(rest, out);
                case "generate":
                    return GenerateCommand.run(rest, out);
                case "export-hf":
                    return ExportHfCommand.run(rest, out);
                case "convert-lora":
                    return ConvertLoraCommand.run(rest, out, err);
                case "forward":
                    return ForwardCommand.run(rest, out);
                case "plan":
                    return PlanCommand.run(rest, out);
                case "prepare":
                    return PrepareCommand.run(rest, out, err);
                case "pipeline":
                    return PipelineCommand.run(rest, out);
                case "report":
                    return ReportCommand.run(rest, out);
                case "sample":
                    return SampleCommand.run(rest, out);
                case "bench":
                    return BenchCommand.run(rest, out, err);
                case "help":
                case "--help":
                case "-h":
                    out.println(USAGE);
                    return 0;
                default:
                    err.println("omnispark: unknown command '" + argv[0] + "'\n" + USAGE);
                    return 2;
            }
        } catch (ConfigException e) {
            err.println("omnispark: error: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("omnispark: error: " + e.getMessage());
            return 2;
        } catch (Exception e) {
            err.println("omnispark: failed: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }
}
