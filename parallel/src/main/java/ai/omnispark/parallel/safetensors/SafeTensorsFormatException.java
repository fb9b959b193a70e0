package ai.omnispark.parallel.safetensors;

import java.io.IOException;

/** A file that is not valid safetensors; the message names the file and what is wrong. */
public class SafeTensorsFormatException extends IOException {
    public SafeTensorsFormatException(String message) {
        super(message);
    }
}
