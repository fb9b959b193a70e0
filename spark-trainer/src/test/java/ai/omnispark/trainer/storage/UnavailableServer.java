package ai.omnispark.trainer.storage;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * What a storage test does when its test server (S3Proxy, MiniDFSCluster) cannot start. On a
 * developer's machine it is skipped; in CI ({@code CI=true}, which {@code .ci/run} exports) it fails,
 * so a green CI run always means the storage path was exercised, never that it was skipped.
 */
final class UnavailableServer {
    private UnavailableServer() {}

    /** Skips the calling test, or fails it in CI; never returns. */
    static void skipOrFail(String why) {
        skipOrFail(System.getenv("CI"), why);
    }

    /** As {@link #skipOrFail(String)} with {@code ci} as the value of the CI environment variable. */
    static void skipOrFail(String ci, String why) {
        if ("true".equalsIgnoreCase(ci)) {
            Assertions.fail(why + " (CI=true: storage tests must run in CI, not skip)");
        }
        Assumptions.abort(why + " (skipped outside CI; with CI=true this fails)");
    }
}
