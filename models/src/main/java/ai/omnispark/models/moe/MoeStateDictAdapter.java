package ai.omnispark.models.moe;

import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The family's parameter names are HF's per-expert names, which export writes. Import also reads
 * the fused expert layout: {@code mlp.experts.gate_up_proj} [E, 2*I, H] (expert j's gate_proj is
 * rows [0, I) of slice j, its up_proj rows [I, 2I)) and {@code mlp.experts.down_proj} [E, H, I].
 */
final class MoeStateDictAdapter implements StateDictAdapter {
    private static final String PEFT_PREFIX = "base_model.model.";
    private static final Pattern EXPERT = Pattern.compile(
            "model\\.layers\\.(\\d+)\\.mlp\\.experts\\.(\\d+)\\.(gate_proj|up_proj|down_proj)\\.weight");

    private final MoeConfig config;
    private final Set<String> names = new HashSet<>();

    MoeStateDictAdapter(MoeConfig config, List<UnitLayout> units) {
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

    @Override
    public FusedSlice fusedSlice(String hfName) {
        Matcher m = EXPERT.matcher(hfName);
        if (!m.matches() || !names.contains(hfName)) {
            return null;
        }
        int layer = Integer.parseInt(m.group(1));
        long expert = Long.parseLong(m.group(2));
        long e = config.numExperts();
        long h = config.hiddenSize();
        long im = config.moeIntermediateSize();
        return switch (m.group(3)) {
            case "gate_proj" -> new FusedSlice(MoeNames.fusedGateUp(layer), new long[] {e, 2 * im, h}, expert * 2 * im * h);
            case "up_proj" -> new FusedSlice(MoeNames.fusedGateUp(layer), new long[] {e, 2 * im, h},
                    expert * 2 * im * h + im * h);
            default -> new FusedSlice(MoeNames.fusedDown(layer), new long[] {e, h, im}, expert * h * im);
        };
    }

    @Override
    public String tiedTo(String hfName) {
        return config.tieWordEmbeddings() && hfName.equals(MoeNames.LM_HEAD) ? MoeNames.EMBED : null;
    }

    @Override
    public String tieReason() {
        return "config.json says tie_word_embeddings: true, so the model has one matrix for both and this head would "
                + "be dropped; remove " + MoeNames.LM_HEAD + " or set tie_word_embeddings to false";
    }
}
