package ai.omnispark.models.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** What the model families' LoRA tests share: a whole model in one store, and adapters that do something. */
public final class LoraTesting {
    private LoraTesting() {}

    /**
     * The units with every parameter trainable, so one {@link LocalParams} holds the whole model with
     * a gradient buffer per unit: the engine still reads the model's own (frozen) layouts, so a base
     * buffer that stays zero shows the base took no gradient.
     */
    public static List<UnitLayout> thawed(List<UnitLayout> units) {
        List<UnitLayout> out = new ArrayList<>();
        for (UnitLayout u : units) {
            out.add(new UnitLayout(u.name(), u.params().stream()
                    .map(p -> new ParamSpec(p.name(), p.shape(), p.init(), p.decay(), true)).toList()));
        }
        return out;
    }

    /** Fills every B (zeros at init) with values in [-0.3, 0.3): A's gradient and the adapters' effect are not zero. */
    public static void randomiseB(List<UnitLayout> units, LocalParams params, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (UnitLayout u : units) {
            for (ParamSpec p : u.params()) {
                if (p.name().endsWith(".lora_B.weight")) {
                    NDArray w = params.weights(u.name());
                    long start = u.offset(p.name());
                    for (long i = start; i < start + p.numel(); i++) {
                        w.set(new NDIndex(i), r.nextDouble(-0.3, 0.3));
                    }
                }
            }
        }
    }
}
