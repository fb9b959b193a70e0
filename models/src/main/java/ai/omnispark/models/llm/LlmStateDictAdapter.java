package ai.omnispark.models.llm;

import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The Llama family's parameter names are its HF names; PEFT keys prefix them with base_model.model. */
final class LlmStateDictAdapter implements StateDictAdapter {
    private static final String PEFT_PREFIX = "base_model.model.";

    private final DecoderConfig config;
    private final Set<String> names = new HashSet<>();

    LlmStateDictAdapter(DecoderConfig config, List<UnitLayout> units) {
        this.config = config;
        for (UnitLayout u : units) {
            for (ParamSpec p : u.params()) {
                names.add(p.name());
            }
        }
    }

    @Override
    public String toHf(String name) {
        return name;
    }

    @Override
    public String fromHf(String hfName) {
        return names.contains(hfName) ? hfName : null;
    }

    @Override
    public String toPeft(String name) {
        return PEFT_PREFIX + name;
    }

    /** A tied model's HF folder may carry lm_head.weight, which must then equal the embedding. */
    @Override
    public String tiedTo(String hfName) {
        return config.tieWordEmbeddings() && hfName.equals(HfNames.LM_HEAD) ? HfNames.EMBED : null;
    }

    @Override
    public String tieReason() {
        return "config.json says tie_word_embeddings: true, so the model has one matrix for both and this head would "
                + "be dropped; remove " + HfNames.LM_HEAD + " or set tie_word_embeddings to false";
    }
}
