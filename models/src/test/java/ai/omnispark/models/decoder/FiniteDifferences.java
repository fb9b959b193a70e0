package ai.omnispark.models.decoder;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.omnispark.parallel.param.LocalParams;
import ai.omnispark.parallel.param.ParamSpec;
import ai.omnispark.parallel.param.UnitLayout;
import java.util.List;
import java.util.Set;
import java.util.function.DoubleSupplier;

/**
 * The decoder families' gradient check: every element's analytic gradient (already in
 * {@code params}) against the central difference of the loss with step {@value #STEP}, within
 * {@code atol + rtol * |fd|}; every tensor must have a non-zero finite-difference gradient somewhere.
 */
public final class FiniteDifferences {
    static final double STEP = 1e-5;

    private FiniteDifferences() {}

    /**
     * @param loss the loss at the current weights of {@code params}
     * @param checked receives the name of every tensor checked
     * @return the worst element error as a fraction of its bound
     */
    public static double check(LocalParams params, List<UnitLayout> units, DoubleSupplier loss, double atol, double rtol,
            Set<String> checked) {
        double h = STEP;
        double worst = 0;
        for (UnitLayout unit : units) {
            NDArray w = params.weights(unit.name());
            double[] analytic = params.grad(unit.name()).toDoubleArray();
            for (ParamSpec p : unit.params()) {
                int start = (int) unit.offset(p.name());
                double largest = 0;
                for (int i = start; i < start + p.numel(); i++) {
                    double original = w.getDouble(i);
                    w.set(new NDIndex(i), original + h);
                    double plus = loss.getAsDouble();
                    w.set(new NDIndex(i), original - h);
                    double minus = loss.getAsDouble();
                    w.set(new NDIndex(i), original);
                    double fd = (plus - minus) / (2 * h);
                    double error = Math.abs(fd - analytic[i]);
                    worst = Math.max(worst, error / (atol + rtol * Math.abs(fd)));
                    assertTrue(error <= atol + rtol * Math.abs(fd), p.name() + "[" + (i - start) + "]: analytic "
                            + analytic[i] + ", finite difference " + fd);
                    largest = Math.max(largest, Math.abs(fd));
                }
                assertTrue(largest > 0, p.name() + " has an all-zero finite-difference gradient");
                checked.add(p.name());
            }
        }
        return worst;
    }
}
