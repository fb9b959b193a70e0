package ai.omnispark.models.moe;

import ai.djl.ndarray.NDArray;
import ai.omnispark.models.nn.Ops;

/**
 * Top-k routing as transformers' Qwen2/Qwen3-MoE sparse blocks do it: p = softmax(h W_gate^T) over
 * all experts, the k largest p per token, renormalised to sum 1 when {@code norm_topk_prob}.
 */
final class Router {
    private Router() {}

    /**
     * @param probs softmax over all experts, [T, E] (recorded: the load-balancing loss reads it)
     * @param weights the chosen experts' weights, [T, k] (recorded: gradients reach the router through them)
     * @param experts the chosen experts on the host, row-major [T * k]; slot j of token t is {@code t * k + j}
     */
    record Routing(NDArray probs, NDArray weights, long[] experts, int topK) {
        int tokens() {
            return experts.length / topK;
        }
    }

    static Routing route(NDArray hidden, NDArray gate, int topK, boolean normTopkProb) {
        NDArray probs = Ops.linear(hidden, gate, null).softmax(-1);
        // The choice is not differentiated (as in torch.topk's indices); the weights are gathered
        // from the recorded probabilities so that their gradient reaches the router.
        NDArray chosen = probs.stopGradient().topK(topK, -1, true, true).get(1);
        NDArray weights = probs.gather(chosen, 1);
        if (normTopkProb) {
            weights = weights.div(weights.sum(new int[] {1}, true));
        }
        return new Routing(probs, weights, chosen.toLongArray(), topK);
    }
}
