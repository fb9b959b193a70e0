package ai.omnispark.trainer.storage;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

class UnavailableServerTest {
    @Test
    void aServerThatCannotStartFailsInCiAndSkipsElsewhere() {
        AssertionFailedError failed = assertThrows(AssertionFailedError.class,
                () -> UnavailableServer.skipOrFail("true", "S3Proxy did not listen"));
        assertTrue(failed.getMessage().contains("S3Proxy did not listen") && failed.getMessage().contains("CI=true"),
                failed.getMessage());
        assertThrows(AssertionFailedError.class, () -> UnavailableServer.skipOrFail("TRUE", "x"));
        for (String ci : new String[] {null, "", "false"}) {
            assertThrows(TestAbortedException.class, () -> UnavailableServer.skipOrFail(ci, "x"), "CI=" + ci);
        }
    }
}
