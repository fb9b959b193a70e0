package ai.omnispark.models.vlm;

import java.util.ArrayList;
import java.util.List;

/**
 * Which parts of a Qwen2-VL model do not train (model.freeze_vision_tower, model.freeze_merger,
 * model.freeze_language_model): their units are frozen, so they take no gradient and no optimizer
 * state, while gradients still flow through them to the parts that train.
 *
 * @param visionTower the patch embedding and every ViT block
 * @param merger the patch merger
 * @param languageModel the embedding, every decoder layer and the head
 */
record Qwen2VlFreeze(boolean visionTower, boolean merger, boolean languageModel) {
    static final Qwen2VlFreeze NONE = new Qwen2VlFreeze(false, false, false);

    Qwen2VlFreeze {
        if (visionTower && merger && languageModel) {
            throw new IllegalArgumentException("model.freeze_vision_tower, freeze_merger and freeze_language_model are "
                    + "all true: nothing would train");
        }
    }

    boolean any() {
        return visionTower || merger || languageModel;
    }

    String describe() {
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
}
