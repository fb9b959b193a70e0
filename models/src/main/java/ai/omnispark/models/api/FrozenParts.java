package ai.omnispark.models.api;

import java.util.ArrayList;
import java.util.List;

/**
 * Which parts of a vision-language model do not train (model.freeze_vision_tower,
 * model.freeze_merger, model.freeze_language_model). A family marks their units frozen, so the
 * stores give them the frozen placement (weights only: no gradient, no optimizer state) while
 * gradients still flow through them to the parts that train.
 *
 * @param visionTower the patch embedding and every ViT block
 * @param merger the patch merger
 * @param languageModel the token embedding, every decoder layer and the head
 */
public record FrozenParts(boolean visionTower, boolean merger, boolean languageModel) {
    public static final FrozenParts NONE = new FrozenParts(false, false, false);

    public FrozenParts {
        if (visionTower && merger && languageModel) {
            throw new IllegalArgumentException("model.freeze_vision_tower, model.freeze_merger and "
                    + "model.freeze_language_model are all true: nothing would train");
        }
    }

    public boolean any() {
        return visionTower || merger || languageModel;
    }

    /** For a family without a vision tower: any freeze flag is a mistake, named. */
    public void refuseFor(String modelType) {
        if (any()) {
            throw new IllegalArgumentException("model.freeze_vision_tower, model.freeze_merger and "
                    + "model.freeze_language_model are for vision-language models (qwen2_vl); a " + modelType
                    + " model has no such parts: remove " + String.join(", ", keys()));
        }
    }

    /** The parts frozen, for the run log: e.g. "vision tower, merger". */
    public String describe() {
        List<String> parts = new ArrayList<>();
        if (visionTower) {
            parts.add("vision tower");
        }
        if (merger) {
            parts.add("merger");
        }
        if (languageModel) {
            parts.add("language model");
        }
        return String.join(", ", parts);
    }

    private List<String> keys() {
        List<String> keys = new ArrayList<>();
        if (visionTower) {
            keys.add("model.freeze_vision_tower");
        }
        if (merger) {
            keys.add("model.freeze_merger");
        }
        if (languageModel) {
            keys.add("model.freeze_language_model");
        }
        return keys;
    }
}
