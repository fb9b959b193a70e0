package ai.omnispark.models.llm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.decoder.DecoderLinears;
import ai.omnispark.models.decoder.DecoderNames;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.LoraTargets;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.SegmentCall;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.runtime.RankRandom;
import java.util.List;

/**
 * Which linears of a decoder take a LoRA adapter ({@code model.lora_config}): the seven linear
 * kinds of every block ({@link DecoderLinears}), as {@link LoraTargets} candidates. Adapters of
 * block i live in their own trainable unit "layers.i.lora" beside the frozen "layers.i", so the base
 * never takes a gradient or optimizer state.
 */
final class DecoderLora {
    private final LoraTargets targets;

    /** @param config null for a model without adapters */
    DecoderLora(DecoderConfig c, LoraConfig config) {
        this.targets = new LoraTargets(config, DecoderLinears.loraCandidates(c),
                "those of a " + c.family() + " block: " + DecoderLinears.DESCRIBED);
    }

    /** The adapters' settings; null without LoRA. */
    LoraConfig config() {
        return targets.config();
    }

    boolean enabled() {
        return targets.enabled();
    }

    /** The units block {@code layer}'s segments read: its own, and its adapters' when it has any. */
    List<String> units(int layer) {
        return targets.units(DecoderNames.unit(layer));
    }

    /** The parameters of block {@code layer}'s adapter unit; empty when it has none. */
    List<ParamSpec> specs(int layer) {
        return targets.specs(DecoderNames.unit(layer));
    }

    /** Trainable adapter parameters in the whole model. */
    long parameterCount() {
        return targets.parameterCount();
    }

    int adaptedLinears() {
        return targets.adaptedLinears();
    }

    /** The linear {@code module} of the call's block on {@code x}: the base, plus its adapter if it has one. */
    NDArray linear(SegmentCall call, NDArray x, String module, NDArray bias) {
        return targets.linear(call, x, module, bias);
    }

    /**
     * A training step's adapter-dropout masks, one per adapted linear (as PEFT: q, k and v drop their
     * shared input independently), drawn layer by layer in the block's order after the attention
     * masks, so a resumed run draws the same ones.
     */
    void addDropout(Batch batch, NDManager scope, DataType dtype, int rows, int seqLen, RankRandom random) {
        targets.addDropout(batch, scope, dtype, t -> new Shape(rows, seqLen, t.in()), random);
    }
}
