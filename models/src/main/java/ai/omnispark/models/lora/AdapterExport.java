package ai.omnispark.models.lora;

import ai.omnispark.models.hf.HfCheckpoint;
import java.io.IOException;
import java.util.Map;

/**
 * How a family writes a LoRA run's adapter when PEFT's transformers form (under
 * {@link ai.omnispark.models.api.StateDictAdapter#toPeft} names, the tokenizer beside it) is not
 * what its users load: a diffusion transformer's checkpoints ship the adapter in the naming of the
 * original code, say. The trainer gathers the adapter ({@link PeftAdapter#gather}) and hands it here;
 * which folder gets which form is the family's business, not the trainer's.
 */
public interface AdapterExport {
    /**
     * A checkpoint's {@code hf_ckpt/}.
     *
     * @param adapter the adapter units' F32 host copy by internal parameter name
     */
    void writeCheckpoint(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter, HfCheckpoint.FolderSink sink)
            throws IOException;

    /** The run's {@code final_lora/} and the adapter files {@code export-hf} writes beside the base weights. */
    void writeFinal(PeftConfig config, Map<String, PeftAdapter.Tensor> adapter, HfCheckpoint.FolderSink sink)
            throws IOException;
}
