package ai.omnispark.models.wan;

import ai.omnispark.models.api.StateDictAdapter;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The Wan model's parameter names are its diffusers names; PEFT keys prefix them with base_model.model. */
final class WanStateDictAdapter implements StateDictAdapter {
    static final String PEFT_PREFIX = "base_model.model.";

    private final Set<String> names = new HashSet<>();

    WanStateDictAdapter(List<UnitLayout> units) {
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
}
