package ai.omnispark.trainer.plan;

import ai.omnispark.parallel.comm.Communicator;
import java.lang.reflect.Proxy;

/**
 * A communicator that knows only its size and its rank (0): enough for a family's Parallelize to
 * lay out its segments on a mesh (group sizes, this rank's coordinate) without any peer. Every
 * collective is refused, so a plan that tried to communicate while being laid out fails loudly
 * instead of hanging.
 */
final class SizeOnlyCommunicator {
    private SizeOnlyCommunicator() {}

    static Communicator of(int size) {
        return (Communicator) Proxy.newProxyInstance(Communicator.class.getClassLoader(),
                new Class<?>[] {Communicator.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "size" -> size;
                    case "rank" -> 0;
                    case "split" -> of(((int[]) args[0]).length);
                    case "close", "traceTo" -> null;
                    case "toString" -> "SizeOnlyCommunicator[" + size + "]";
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> throw new UnsupportedOperationException("the planner lays out segments only; "
                            + method.getName() + " was called while planning");
                });
    }
}
