package ai.omnispark.models.wan;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.omnispark.models.nn.Ops;
import ai.omnispark.parallel.engine.Batch;
import ai.omnispark.parallel.engine.Segment;
import ai.omnispark.parallel.engine.SegmentCall;
import java.util.List;

/**
 * Unit "head": (shift, scale) = scale_shift_table + temb, {@code proj_out(LN(x)(1 + scale) + shift)},
 * unpatchified with the channels of each token ordered (pt, ph, pw, c) to the velocity prediction
 * [B, out_channels, F, H, W]. Training ({@code loss}): the flow-matching loss of the micro-batch,
 * sum over samples of loss_weight x the mean squared error against {@link WanBatch#TARGET}, one
 * 0-dim output; otherwise the prediction itself. Under Ulysses (the batch holds {@link
 * WanBatch#TARGET_TOKENS}) the loss is computed on this rank's tokens without unpatchifying.
 */
final class WanHeadSegment implements Segment {
    private final WanConfig config;
    private final boolean loss;

    WanHeadSegment(WanConfig config, boolean loss) {
        this.config = config;
        this.loss = loss;
    }

    @Override
    public String name() {
        return WanLayouts.HEAD_UNIT;
    }

    @Override
    public List<String> units() {
        return List.of(WanLayouts.HEAD_UNIT);
    }

    @Override
    public NDList forward(SegmentCall call, NDList inputs) {
        NDArray x = inputs.get(0);
        NDArray temb = inputs.get(2);
        NDArray mod = call.param(WanLayouts.SCALE_SHIFT_TABLE).add(temb.expandDims(1));
        NDArray shift = mod.get(new NDIndex(":, 0:1"));
        NDArray scale = mod.get(new NDIndex(":, 1:2"));
        NDArray h = WanOps.layerNorm(x, config.eps()).mul(scale.add(Ops.constant(x, 1))).add(shift);
        NDArray tokens = Ops.linear(h, call.param(WanLayouts.PROJ_OUT + ".weight"),
                call.param(WanLayouts.PROJ_OUT + ".bias"));
        Batch batch = call.batch();
        if (batch.has(WanBatch.TARGET_TOKENS)) {
            if (!loss) {
                throw new IllegalStateException("a Ulysses batch (this sp rank's tokens) has no whole sample to "
                        + "unpatchify; the prediction needs one rank");
            }
            return new NDList(tokenLoss(batch, tokens));
        }
        Shape s = batch.get(WanBatch.HIDDEN_STATES).getShape();
        int[] p = config.patchSize();
        long b = s.get(0);
        long c = config.outChannels();
        NDArray sample = tokens.reshape(b, s.get(2) / p[0], s.get(3) / p[1], s.get(4) / p[2], p[0], p[1], p[2], c)
                .transpose(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, c, s.get(2), s.get(3), s.get(4));
        if (!loss) {
            return new NDList(sample);
        }
        NDArray target = batch.get(WanBatch.TARGET);
        if (!target.getShape().equals(sample.getShape())) {
            throw new IllegalArgumentException(WanBatch.TARGET + " must be [B, out_channels, F, H, W] = "
                    + sample.getShape() + ", got " + target.getShape());
        }
        NDArray diff = sample.sub(target);
        NDArray mse = diff.mul(diff).reshape(b, -1).mean(new int[] {1});
        return new NDList(mse.mul(batch.get(WanBatch.LOSS_WEIGHT)).sum());
    }

    /**
     * Under Ulysses: this rank's share of the micro-batch loss, sum over samples of loss_weight x (the
     * squared error summed over this rank's tokens) / (the whole sample's elements). The sp ranks'
     * shares add up to the one-rank loss: each sample's mean is split into its token slices' sums.
     */
    private static NDArray tokenLoss(Batch batch, NDArray tokens) {
        NDArray target = batch.get(WanBatch.TARGET_TOKENS);
        if (!target.getShape().equals(tokens.getShape())) {
            throw new IllegalArgumentException(WanBatch.TARGET_TOKENS + " must be [B, tokens, pt ph pw out_channels] = "
                    + tokens.getShape() + ", got " + target.getShape());
        }
        long b = tokens.getShape().get(0);
        NDArray diff = tokens.sub(target);
        NDArray sse = diff.mul(diff).reshape(b, -1).sum(new int[] {1});
        return sse.div(batch.get(WanBatch.TARGET_ELEMENTS)).mul(batch.get(WanBatch.LOSS_WEIGHT)).sum();
    }
}
