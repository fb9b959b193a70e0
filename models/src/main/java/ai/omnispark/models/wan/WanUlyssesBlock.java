package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.omnispark.models.nn.ulysses.UlyssesAttention;
import ai.omnispark.parallel.comm.Communicator;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * A Wan block ({@link WanBlockSegment}) under Ulysses sequence parallelism: each rank of the sp
 * group holds a contiguous slice of every sample's patch tokens (with the rotary rows of those
 * tokens), and the block becomes five segments so that the all-to-alls of self-attention sit at
 * boundaries with a hand-written backward ({@link UlyssesAttention#toHeads}, {@link
 * UlyssesAttention#toTokens}):
 *
 * <pre>
 *   blocks.i.qkv     recorded  modulated norm, q/k/v, q/k RMSNorm, RoPE on the local tokens  [B, H, S/P, hd]
 *   blocks.i.heads   manual    all-to-all to every token, H/P heads                          [B, H/P, S, hd]
 *   blocks.i.core    recorded  self-attention over the whole sample, this rank's heads
 *   blocks.i.tokens  manual    all-to-all back                                               [B, H, S/P, hd]
 *   blocks.i.out     recorded  to_out and the gated residual, cross-attention, FFN on the local tokens
 * </pre>
 *
 * Cross-attention needs no exchange: its keys and values are the text (and image) context, which
 * every rank holds whole, and its queries are the local tokens. The block's boundary (x,
 * timestep_proj, temb, contexts) rides through every segment; qkv and out each compute the
 * modulation from the unit's table (a [B, 6, D] add, cheap beside the block).
 */
final class WanUlyssesBlock {
    private WanUlyssesBlock() {}

    static List<Segment> segments(WanBlockSegment block, Communicator sp) {
        String name = block.name();
        return List.of(new Project(name + ".qkv", block), UlyssesAttention.toHeads(name + ".heads", sp),
                new Core(name + ".core", block), UlyssesAttention.toTokens(name + ".tokens", sp),
                new Output(name + ".out", block));
    }

    private static NDList withRest(NDList head, NDList inputs, int from) {
        for (int i = from; i < inputs.size(); i++) {
            head.add(inputs.get(i));
        }
        return head;
    }

    /** [x, boundary..] -> [x, q, k, v, boundary..]. */
    private record Project(String name, WanBlockSegment block) implements Segment {
        @Override
        public List<String> units() {
            return block.units();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDArray x = inputs.get(0);
            NDArray[] qkv = block.selfAttentionInputs(call, x, block.modulation(call, inputs.get(1)));
            return withRest(new NDList(x, qkv[0], qkv[1], qkv[2]), inputs, 1);
        }
    }

    /** [x, q, k, v, boundary..] -> [x, attention output, boundary..] over the whole samples, this rank's heads. */
    private record Core(String name, WanBlockSegment block) implements Segment {
        @Override
        public List<String> units() {
            return List.of();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            return withRest(new NDList(inputs.get(0), block.attend(inputs.get(1), inputs.get(2), inputs.get(3))),
                    inputs, 4);
        }
    }

    /** [x, attention output, boundary..] -> [x', boundary..]: the rest of the block on the local tokens. */
    private record Output(String name, WanBlockSegment block) implements Segment {
        @Override
        public List<String> units() {
            return block.units();
        }

        @Override
        public NDList forward(SegmentCall call, NDList inputs) {
            NDList boundary = withRest(new NDList(inputs.get(0)), inputs, 2);
            return block.finish(call, boundary, inputs.get(1), block.modulation(call, boundary.get(1)));
        }
    }
}
