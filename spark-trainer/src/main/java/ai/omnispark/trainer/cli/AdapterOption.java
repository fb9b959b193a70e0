package ai.omnispark.trainer.cli;

import ai.djl.ndarray.NDManager;
import ai.omnispark.models.api.Model;
import ai.omnispark.models.api.ModelFamilies;
import ai.omnispark.models.api.ModelOptions;
import ai.omnispark.models.hf.HfCheckpoint;
import ai.omnispark.models.lora.LoraConfig;
import ai.omnispark.models.lora.PeftAdapter;
import ai.omnispark.models.lora.PeftConfig;
import ai.omnispark.trainer.config.ConfigException;
import ai.omnispark.trainer.job.RankAssembly;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code --adapter ADAPTER_DIR} of {@code score} and {@code generate}: a PEFT LoRA adapter applied,
 * unmerged, on top of the {@code --model} folder. The model is built with the adapter's LoRA
 * settings, its base weights read from the model folder and its adapters from the adapter folder.
 * Every way an adapter can fail to fit the model is a {@link ConfigException} naming the folder.
 */
final class AdapterOption {
    private final Path dir;
    private final PeftConfig config;

    private AdapterOption(Path dir, PeftConfig config) {
        this.dir = dir;
        this.config = config;
    }

    /** The adapter {@code --adapter} names, its config read and checked; null when the option is absent. */
    static AdapterOption of(Args args) {
        return of(args, "adapter");
    }

    /** The adapter the option {@code --name} names (generate of a wan model calls it --lora); null when absent. */
    static AdapterOption of(Args args, String name) {
        if (!args.options.containsKey(name)) {
            return null;
        }
        String given = args.options.get(name);
        if (given.isBlank()) {
            throw new ConfigException("--" + name + " needs a PEFT adapter folder");
        }
        Path dir = Path.of(given);
        if (!Files.isDirectory(dir)) {
            throw new ConfigException("--" + name + " " + dir + " is not a folder (a PEFT adapter folder holds "
                    + PeftAdapter.CONFIG + " and " + PeftAdapter.WEIGHTS + ")");
        }
        try {
            return new AdapterOption(dir, PeftAdapter.readConfig(dir));
        } catch (IOException e) {
            throw new ConfigException("--" + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * The model of HF folder {@code modelDir} without weights, with the adapters of {@code adapterOrNull}
     * (none when null). Adapter dropout is off: these commands evaluate.
     */
    static Model model(Path modelDir, AdapterOption adapterOrNull) throws IOException {
        if (adapterOrNull == null) {
            return ModelFamilies.load(modelDir, ModelOptions.defaults());
        }
        LoraConfig lora = adapterOrNull.config.lora();
        ModelOptions options = new ModelOptions("auto", 0,
                new LoraConfig(lora.rank(), lora.alpha(), 0, lora.modules()));
        com.fasterxml.jackson.databind.JsonNode hfConfig = ModelFamilies.readConfig(modelDir);
        try {
            return ModelFamilies.build(hfConfig, options);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("--adapter " + adapterOrNull.dir + " does not fit the model of " + modelDir
                    + ": its " + PeftAdapter.CONFIG + " has target_modules " + lora.modules() + "; " + e.getMessage(), e);
        }
    }

    /**
     * Overwrites the parameters of {@code loaded} (built by {@link #model}) with the base weights of
     * {@code modelDir} and then, when given, the adapter's A and B.
     */
    static void load(RankAssembly loaded, Path modelDir, AdapterOption adapterOrNull, NDManager manager)
            throws IOException {
        loaded.loadHf(modelDir, manager);
        if (adapterOrNull == null) {
            return;
        }
        Model model = loaded.model();
        try {
            PeftAdapter.load(adapterOrNull.dir, List.copyOf(HfCheckpoint.adapterUnits(model).values()),
                    loaded.params(), manager, model.stateDictAdapter()::toPeft);
        } catch (IOException e) {
            throw new ConfigException("--adapter " + adapterOrNull.dir + " does not fit the model of " + modelDir
                    + ": " + e.getMessage(), e);
        }
    }

    Path dir() {
        return dir;
    }
}
