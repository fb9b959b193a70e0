package ai.omnispark.trainer.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.hf.HfConfig;
import ai.omnispark.models.llm.DecoderConfig;
import ai.omnispark.models.llm.DecoderLM;
import ai.omnispark.models.nn.attention.AttentionImpl;
import ai.omnispark.parallel.param.ParamStore;
import ai.omnispark.parallel.param.ParamStores;
import java.io.IOException;
import java.nio.file.Path;

/** A model and its whole weights on one rank, built fresh from a HF config or loaded from a HF folder. */
public final class LoadedModel implements AutoCloseable {
    private final DecoderLM model;
    private final ParamStore params;

    private LoadedModel(DecoderLM model, ParamStore params) {
        this.model = model;
        this.params = params;
    }

    /** Fresh weights, deterministic from {@code seed}. */
    public static LoadedModel fresh(DecoderConfig config, NDManager manager, DataType dtype, long seed) {
        return fresh(config, AttentionImpl.AUTO, manager, dtype, seed);
    }

    /** Fresh weights, deterministic from {@code seed}, attention on {@code attention}. */
    public static LoadedModel fresh(DecoderConfig config, AttentionImpl attention, NDManager manager, DataType dtype,
            long seed) {
        DecoderLM model = new DecoderLM(config, attention);
        return new LoadedModel(model, ParamStores.build(manager, model.units(), dtype, seed, null, true));
    }

    /** Config and weights from a HF folder. */
    public static LoadedModel fromHf(Path dir, NDManager manager, DataType dtype) throws IOException {
        return fromHf(dir, AttentionImpl.AUTO, manager, dtype);
    }

    /** Config and weights from a HF folder, attention on {@code attention}. */
    public static LoadedModel fromHf(Path dir, AttentionImpl attention, NDManager manager, DataType dtype)
            throws IOException {
        DecoderConfig config = HfConfig.read(dir);
        LoadedModel loaded = fresh(config, attention, manager, dtype, 0);
        try {
            HfCheckpoint.load(loaded.model, loaded.params, manager, dir);
        } catch (IOException | RuntimeException e) {
            loaded.close();
            throw e;
        }
        return loaded;
    }

    public DecoderLM model() {
        return model;
    }

    public ParamStore params() {
        return params;
    }

    @Override
    public void close() {
        try (DecoderLM ownedModel = model) {
            params.close();
        }
    }
}
