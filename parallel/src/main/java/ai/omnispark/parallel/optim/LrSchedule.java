package ai.omnispark.parallel.optim;

/** Learning rate per step: linear warmup, then constant, cosine or linear decay to {@code minLr}. */
public final class LrSchedule {
    public enum Decay { CONSTANT, COSINE, LINEAR }

    private final double peak;
    private final double minLr;
    private final long warmupSteps;
    private final long totalSteps;
    private final Decay decay;

    public LrSchedule(double peak, double minLr, long warmupSteps, long totalSteps, Decay decay) {
        if (!(peak > 0)) {
            throw new IllegalArgumentException("train.lr must be > 0, got " + peak);
        }
        if (minLr < 0 || minLr > peak) {
            throw new IllegalArgumentException("train.lr_min must be in [0, train.lr], got " + minLr);
        }
        if (totalSteps < 1 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("warmup steps " + warmupSteps
                    + " must be within the " + totalSteps + " total steps");
        }
        this.peak = peak;
        this.minLr = minLr;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.decay = decay;
    }

    public static Decay decay(String name) {
        return switch (name) {
            case "constant" -> Decay.CONSTANT;
            case "cosine" -> Decay.COSINE;
            case "linear" -> Decay.LINEAR;
            default -> throw new IllegalArgumentException(
                    "train.lr_decay_style must be constant, cosine or linear, got '" + name + "'");
        };
    }

    /** The rate for optimizer step {@code step}, counted from 0. */
    public double lr(long step) {
        if (step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        if (decay == Decay.CONSTANT || totalSteps == warmupSteps) {
            return peak;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
        double factor = decay == Decay.COSINE ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
        return minLr + (peak - minLr) * factor;
    }
}
