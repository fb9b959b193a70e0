package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.api.Model;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Recompute;
import ai.omnispark.parallel.engine.SegmentEngine;
import ai.omnispark.parallel.engine.UnitParams;

/**
 * One DiT forward on diffusers' forward arguments, without gradients: the `forward` command's and
 * a sampler's velocity prediction. Holds nothing but the model; the weights come per call.
 */
public final class WanForward {
    private final WanModel model;
    private final SegmentEngine engine;

    /** @param model a {@link WanModel} (as {@link ai.omnispark.models.api.ModelFamilies} builds it for a wan config) */
    public WanForward(Model model) {
        if (!(model instanceof WanModel wan)) {
            throw new IllegalArgumentException("the forward of a DiT needs a " + WanFamily.NAME + " model, got family "
                    + model.family());
        }
        this.model = wan;
        this.engine = new SegmentEngine(wan.evaluationSegments(), wan.units(), Recompute.none());
    }

    public WanConfig config() {
        return model.config();
    }

    /**
     * diffusers' {@code WanTransformer3DModel.forward(hidden_states, timestep, encoder_hidden_states,
     * encoder_hidden_states_image).sample}: [B, out_channels, F, H, W] in {@code dtype}, in {@code scope}.
     *
     * @param hiddenStates [B, in_channels, F, H, W]
     * @param timestep [B], on the 0..1000 scale
     * @param encoderHiddenStates [B, L, text_dim]
     * @param encoderHiddenStatesImage [B, 257, image_dim] for an image-to-video model, else null
     */
    public NDArray sample(NDManager scope, UnitParams params, DataType dtype, NDArray hiddenStates, NDArray timestep,
            NDArray encoderHiddenStates, NDArray encoderHiddenStatesImage) {
        Batch batch = WanBatch.inputs(scope, model.config(), dtype, hiddenStates, timestep, encoderHiddenStates,
                encoderHiddenStatesImage);
        return engine.forward(scope, batch, new NDList(), params).singletonOrThrow();
    }
}
