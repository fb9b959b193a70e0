package ai.omnispark.models.decoder;

import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A decoder family whose parameter names are its HF names; PEFT keys prefix them with
 * base_model.model. A family that also reads another HF layout overrides {@link #fusedSlice}.
 */
public class DecoderStateDictAdapter implements StateDictAdapter {
    private static final String PEFT_PREFIX = "base_model.model.";

    private final boolean tied;
    private final Set<String> names = new HashSet<>();

    public DecoderStateDictAdapter(DecoderShape config, List<UnitLayout> units) {
        this.tied = config.tieWordEmbeddings();
        for (UnitLayout u : units) {
            for (ParamSpec p : u.params()) {
                names.add(p.name());
            }
        }
    }

    /** Whether the model has a parameter named {@code name}. */
    protected final boolean has(String name) {
        return names.contains(name);
    }

    @Override
    public final String toHf(String name) {
        return name;
    }

    @Override
    public final String fromHf(String hfName) {
        return names.contains(hfName) ? hfName : null;
    }

    @Override
    public final String toPeft(String name) {
        return PEFT_PREFIX + name;
    }

    /** A tied model's HF folder may carry lm_head.weight, which must then equal the embedding. */
    @Override
    public final String tiedTo(String hfName) {
        return tied && hfName.equals(DecoderNames.LM_HEAD) ? DecoderNames.EMBED : null;
    }

    @Override
    public final String tieReason() {
        return "config.json says tie_word_embeddings: true, so the model has one matrix for both and this head would "
                + "be dropped; remove " + DecoderNames.LM_HEAD + " or set tie_word_embeddings to false";
    }
}
