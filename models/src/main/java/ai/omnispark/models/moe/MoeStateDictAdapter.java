package ai.omnispark.models.moe;

import ai.omnispark.models.decoder.DecoderStateDictAdapter;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The family's parameter names are HF's per-expert names, which export writes. Import also reads
 * the fused expert layout: {@code mlp.experts.gate_up_proj} [E, 2*I, H] (expert j's gate_proj is
 * rows [0, I) of slice j, its up_proj rows [I, 2I)) and {@code mlp.experts.down_proj} [E, H, I].
 */
final class MoeStateDictAdapter extends DecoderStateDictAdapter {
    private static final Pattern EXPERT = Pattern.compile(
            "model\\.layers\\.(\\d+)\\.mlp\\.experts\\.(\\d+)\\.(gate_proj|up_proj|down_proj)\\.weight");

    private final MoeConfig config;

    MoeStateDictAdapter(MoeConfig config, List<UnitLayout> units) {
        super(config, units);
        this.config = config;
    }

    @Override
    public FusedSlice fusedSlice(String hfName) {
        Matcher m = EXPERT.matcher(hfName);
        if (!m.matches() || !has(hfName)) {
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
}
