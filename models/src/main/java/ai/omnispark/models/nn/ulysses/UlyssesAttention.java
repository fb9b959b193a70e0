package ai.omnispark.models.nn.ulysses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.attention.Attention;
import ai.omnispark.models.nn.attention.SelfAttentionBlock;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.ManualSegment;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;
import java.util.function.Function;

/**
 * {@link SelfAttentionBlock} under Ulysses sequence parallelism: each rank of the sp group holds
 * S/P tokens of every row, and the block becomes five segments so that the two all-to-alls sit at
 * boundaries with a hand-written backward:
 *
 * <pre>
 *   NAME.qkv     recorded  norm, q/k/v, q/k norm, RoPE on the local tokens; k/v heads repeated to a
 *                          multiple of P                        [B, H, S/P, D]
 *   NAME.heads   manual    all-to-all to every token, H/P heads  [B, H/P, S, D]
 *   NAME.core    recorded  attention over the whole rows (doc mask, dropout mask of this rank's heads)
 *   NAME.tokens  manual    all-to-all back                       [B, H, S/P, D]
 *   NAME.out     recorded  o_proj and the residual on the local tokens
 * </pre>
 *
 * The block's input hidden state rides along to NAME.out (the residual), and any further inputs (a
 * MoE model's router statistics) pass through every segment unchanged, as in the one-rank block.
 */
public final class UlyssesAttention {
    private UlyssesAttention() {}

    /**
     * The block's segments.
     *
     * @param name the one-rank segment's name ("attn.i"); the segments are named NAME.qkv and so on
     * @param units the units the one-rank segment reads (the projections and norms)
     * @param linear the family's projection for a call (the dense decoder's adds LoRA there)
     * @param sp the sp group; its rank r holds tokens chunk r and attends with head chunk r
     */
    public static List<Segment> segments(String name, List<String> units, int layer, String prefix,
            SelfAttentionBlock.Spec spec, Function<SegmentCall, SelfAttentionBlock.Projection> linear,
            Attention attention, Communicator sp) {
        int p = sp.size();
        int kvRepeat = kvRepeat(spec, p);
        return List.of(new Project(name + ".qkv", units, prefix, spec, linear, kvRepeat),
                new Exchange(name + ".heads", sp, true), new Core(name + ".core", layer, attention),
                new Exchange(name + ".tokens", sp, false), new Output(name + ".out", units, prefix, spec, linear));
    }

    /**
     * How often each k/v head is repeated so that P divides the k/v heads and every rank's query heads
     * find their own k/v head: P / gcd(kv_heads, P) (1 when P divides kv_heads).
     *
     * @throws IllegalArgumentException when P does not divide the query heads
     */
    public static int kvRepeat(SelfAttentionBlock.Spec spec, int p) {
        checkHeads(spec.numHeads(), p);
        return p / gcd(spec.numKvHeads(), p);
    }

    /** @throws IllegalArgumentException when P does not divide the model's {@code heads} attention heads */
    public static void checkHeads(int heads, int p) {
        if (heads % p != 0) {
            throw new IllegalArgumentException("Ulysses splits the attention heads over the sp ranks, but the model's "
                    + "num_attention_heads (" + heads + ") is not divisible by the ulysses size (" + p
                    + "); choose a ulysses size that divides " + heads);
        }
    }

    /**
     * The manual segment that moves q, k and v (inputs 1, 2, 3; input 0 and any after them pass
     * through) from this rank's tokens with every head to every token with this rank's heads, for a
     * family that writes its own recorded segments around the exchange.
     */
    public static Segment toHeads(String name, Communicator sp) {
        return new Exchange(name, sp, true);
    }

    /** The manual segment that moves the attention output (input 1) back to this rank's tokens with every head. */
    public static Segment toTokens(String name, Communicator sp) {
        return new Exchange(name, sp, false);
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** Each of the [B, Hkv, T, D] heads {@code repeat} times in a row (head h becomes h*r .. h*r+r-1). */
    static NDArray repeatHeads(NDArray x, int repeat) {
        if (repeat == 1) {
            return x;
        }
        Shape s = x.getShape();
        return x.expandDims(2).broadcast(s.get(0), s.get(1), repeat, s.get(2), s.get(3))
                .reshape(s.get(0), s.get(1) * repeat, s.get(2), s.get(3));
    }

    private static NDList withRest(NDList head, NDList inputs, int from) {
        for (int i = from; i < inputs.size(); i++) {
            head.add(inputs.get(i));
        }
        return head;
    }

    /** [x, rest..] -> [x, q, k, v, rest..] on the local tokens. */
    private record Project(String name, List<String> units, String prefix, SelfAttentionBlock.Spec spec,
            Function<SegmentCall, SelfAttentionBlock.Projection> linear, int kvRepeat) implements Segment {
        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray x = inputs.get(0);
            NDArray[] qkv = SelfAttentionBlock.project(call, x, prefix, spec, linear.apply(call));
            return withRest(new NDList(x, qkv[0], repeatHeads(qkv[1], kvRepeat), repeatHeads(qkv[2], kvRepeat)),
                    inputs, 1);
        }
    }

    /**
     * The all-to-all of the operands after the hidden state (q, k, v to heads; the attention output
     * back to tokens); its backward is the opposite exchange of the operands' gradients.
     */
    private record Exchange(String name, Communicator sp, boolean toHeads) implements ManualSegment {
        /** Inputs 1 .. 1 + operands() are exchanged. */
        private int operands() {
            return toHeads ? 3 : 1;
        }

        @Override
        public List<String> units() {
            return List.of();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDList moved = exchange(call, inputs, toHeads);
            return withRest(withFirst(inputs.get(0), moved), inputs, 1 + operands());
        }

        @Override
        public NDList backward(SegmentCall call, NDList inputs, NDList gradOutputs) {
            NDList grads = new NDList();
            grads.add(gradOutputs.get(0));
            for (int i = 1; i <= operands(); i++) {
                // Every rank must join the exchange: a missing gradient goes as zeros.
                NDArray g = gradOutputs.get(i);
                grads.add(g != null ? g : call.manager().zeros(outputShape(inputs.get(i)), inputs.get(i).getDataType()));
            }
            NDList moved = exchange(call, grads, !toHeads);
            NDList result = withFirst(gradOutputs.get(0), moved);
            for (int i = 1 + operands(); i < gradOutputs.size(); i++) {
                result.add(gradOutputs.get(i));
            }
            return result;
        }

        private NDList exchange(SegmentCall call, NDList list, boolean heads) {
            NDList operands = new NDList();
            for (int i = 1; i <= operands(); i++) {
                operands.add(list.get(i));
            }
            return heads ? HeadExchange.toHeads(call.manager(), operands, sp)
                    : HeadExchange.toTokens(call.manager(), operands, sp);
        }

        private Shape outputShape(NDArray input) {
            Shape s = input.getShape();
            int p = sp.size();
            return toHeads ? new Shape(s.get(0), s.get(1) / p, s.get(2) * p, s.get(3))
                    : new Shape(s.get(0), s.get(1) * p, s.get(2) / p, s.get(3));
        }

        private static NDList withFirst(NDArray first, NDList rest) {
            NDList out = new NDList();
            out.add(first);
            out.addAll(rest);
            return out;
        }
    }

    /** [x, q, k, v, rest..] -> [x, attention output, rest..] over whole rows, this rank's heads. */
    private record Core(String name, int layer, Attention attention) implements Segment {
        @Override
        public List<String> units() {
            return List.of();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray o = SelfAttentionBlock.attend(call, layer, attention, inputs.get(1), inputs.get(2), inputs.get(3));
            return withRest(new NDList(inputs.get(0), o), inputs, 4);
        }
    }

    /** [x, attention output, rest..] -> [x + o_proj(output), rest..] on the local tokens. */
    private record Output(String name, List<String> units, String prefix, SelfAttentionBlock.Spec spec,
            Function<SegmentCall, SelfAttentionBlock.Projection> linear) implements Segment {
        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray x = inputs.get(0);
            return withRest(new NDList(SelfAttentionBlock.output(call, x, inputs.get(1), prefix, spec,
                    linear.apply(call))), inputs, 2);
        }
    }
}
