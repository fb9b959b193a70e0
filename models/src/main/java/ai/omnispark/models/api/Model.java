package ai.omnispark.models.api;

import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.param.UnitLayout;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * One rank's instance of a model: what the trainer, the checkpoint code and the CLI commands need
 * of it, whatever its family. It declares parameter units and segments; it knows nothing of how it
 * is run. {@link #close} frees what it owns (e.g. loaded attention kernels).
 */
public interface Model extends AutoCloseable {
    /** The family's {@link ModelFamily#name()}. */
    String family();

    long parameterCount();

    /** Parameter units; with adapters, the base units are frozen and the adapters have their own trainable units. */
    List<UnitLayout> units();

    /** Segments of a training forward; their outputs are the ones {@link Objective} seeds and reads. */
    List<Segment> trainingSegments();

    /** Segments of an evaluation forward; the last output is the logits, [rows, seqLen, vocab]. */
    List<Segment> evaluationSegments();

    /** Turns samples into a batch of the segments' side inputs. */
    Collator collator();

    /** The training loss: its normaliser, gradient seeds and named terms. */
    Objective objective();

    /** Internal parameter names to and from HF / PEFT names. */
    StateDictAdapter stateDictAdapter();

    /** The family's step that picks the segments to run and the recompute policy for a mesh. */
    Parallelize parallelize();

    /** The sample layouts the collator takes. */
    Set<SampleLayout> sampleLayouts();

    /** Token vocabulary size; 0 for a model without one. */
    int vocabSize();

    /** The config.json that rebuilds this model, as transformers writes it, with {@code torch_dtype}. */
    ObjectNode hfConfig(String torchDtype);

    /** generation_config.json of a HF export, or null when the family has none. */
    ObjectNode generationConfig();

    /** Lines describing the model for the run log. */
    List<String> describe();

    @Override
    void close();

    /**
     * The LoRA adapters this model was built with ({@link ModelOptions#lora}); null when every
     * parameter trains. Adapters of base unit U live in unit {@code U.lora} (LoraAdapters.unitOf).
     */
    default ai.omnispark.models.lora.LoraConfig lora() {
        return null;
    }

    /**
     * Decoding with a key/value cache, or null when the family has none (then a caller re-runs the
     * whole prefix per token through {@link #collator} and {@link #evaluationSegments}).
     */
    default CachedDecoding cachedDecoding() {
        return null;
    }

    /** Images as Hugging Face's image processor returns them, or null when the family takes none. */
    default ProcessorMedia processorMedia() {
        return null;
    }

    /** What this rank's segments record beyond the loss (per-step metric fields); {@link ModelMetrics#NONE} by default. */
    default ModelMetrics metrics() {
        return ModelMetrics.NONE;
    }

    /**
     * The weights file of this model's HF folder: {@code model.safetensors} for transformers
     * models, {@code diffusion_pytorch_model.safetensors} for diffusers ones.
     */
    default String hfWeightsFile() {
        return "model.safetensors";
    }

    /**
     * Whether this model's HF folders carry the tokenizer's files: transformers models tokenize their
     * input, a diffusers model (which takes embeddings) has no tokenizer in its folder.
     */
    default boolean hfFolderHasTokenizer() {
        return true;
    }

    /**
     * How a LoRA run of this model writes its adapter; null for PEFT's transformers form
     * ({@code adapter_model.safetensors} under {@link StateDictAdapter#toPeft} names) in both a
     * checkpoint's hf_ckpt/ and final_lora/.
     */
    default ai.omnispark.models.lora.AdapterExport adapterExport() {
        return null;
    }
}
