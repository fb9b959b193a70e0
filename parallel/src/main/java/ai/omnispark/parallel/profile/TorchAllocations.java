package ai.omnispark.parallel.profile;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import ai.omnispark.parallel.runtime.TorchScriptArchive;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * libtorch's own count of the CPU tensor bytes the calling thread allocated and did not free inside
 * named windows: an independent reading of what {@code NativeHeap} measures from glibc's side.
 *
 * <p>While libtorch's (legacy, thread-local) profiler records with memory profiling on, its CPU
 * allocator reports every tensor allocation (+bytes) and every free of a block allocated while
 * profiling (-bytes) as a memory event of the thread that made it. DJL's trace writer drops those
 * events but adds each to every record function open on that thread, printing the sum as the
 * event's {@code "cpu mem"} (e.g. {@code "16.00 Mb"}, {@code "-4.00 Mb"}, {@code "344 b"}).
 * Op events therefore miss the frees that happen outside an op (a tensor closed from Java), so a
 * window here is a user-scope record function opened and closed from Java: a generated TorchScript
 * module calls {@code profiler::_record_function_enter_new} / {@code _record_function_exit}, and
 * the window's {@code "cpu mem"} is the thread's net allocation from open to close.
 *
 * <p>What it does not see: allocations of other threads, frees of blocks allocated before
 * {@link #start} (libtorch does not know their size), memory outside libtorch's CPU allocator
 * (the JVM, oneDNN scratch, autograd's graph nodes). DJL prints two decimals of the largest unit,
 * so a window's bytes are known to within {@link Window#resolution} (5 KiB below 1 GiB). libtorch
 * refuses a second recording on one thread, so this cannot run beside {@link Profiler}'s op trace
 * on the same thread.
 */
public final class TorchAllocations implements AutoCloseable {
    private static final String CLASS = "MemoryWindow";
    private static final String SOURCE = "class " + CLASS + "(Module):\n"
            + "  __parameters__ = []\n"
            + "  __buffers__ = []\n"
            + "  training : bool\n"
            + "  def forward(self: __torch__." + CLASS
            + ", name: str) -> __torch__.torch.classes.profiler._RecordFunction:\n"
            + "    return ops.profiler._record_function_enter_new(name, None)\n"
            + "  def close(self: __torch__." + CLASS
            + ", window: __torch__.torch.classes.profiler._RecordFunction) -> NoneType:\n"
            + "    ops.profiler._record_function_exit(window)\n"
            + "    return None\n";
    /** Window names carry this prefix so libtorch's own ops and record functions never match. */
    private static final String PREFIX = "omnispark.memory:";
    private static final Pattern CPU_MEM = Pattern.compile("(-?[0-9]+(?:\\.[0-9]+)?) (Gb|Mb|Kb|b)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final NDManager manager;
    private final PtSymbolBlock module;
    private final Thread owner;
    private final Path file;
    private boolean recording;

    private TorchAllocations(NDManager manager, PtSymbolBlock module, Path file) {
        this.manager = manager;
        this.module = module;
        this.file = file;
        this.owner = Thread.currentThread();
    }

    /** Starts libtorch's memory profiling on the calling thread; windows open and close on it. */
    public static TorchAllocations start() {
        NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        manager.setName("torch-allocations");
        PtSymbolBlock module = null;
        Path file = null;
        try {
            module = JniUtils.loadModule((PtNDManager) manager,
                    new ByteArrayInputStream(TorchScriptArchive.module(CLASS, SOURCE)), true, false);
            file = Files.createTempFile("omnispark-torch-memory-", ".json");
            JniUtils.startProfile(false, false, true);
        } catch (IOException | RuntimeException e) {
            if (module != null) {
                module.close();
            }
            manager.close();
            try {
                delete(file);
            } catch (UncheckedIOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new IllegalStateException("cannot start libtorch's memory profiling on thread "
                    + Thread.currentThread().getName() + ": " + e.getMessage(), e);
        }
        TorchAllocations allocations = new TorchAllocations(manager, module, file);
        allocations.recording = true;
        return allocations;
    }

    /** Opens a window named {@code name}; close it on this thread before {@link #stop}. */
    public Span open(String name) {
        checkRecording("open window " + name);
        IValue handle;
        try (IValue label = IValue.from(PREFIX + name)) {
            handle = IValueUtils.runMethod(module, "forward", label);
        }
        return () -> {
            try {
                checkRecording("close window " + name);
                IValueUtils.runMethod(module, "close", handle).close();
            } finally {
                handle.close();
            }
        };
    }

    /**
     * A tracer whose spans are windows named {@code category/name}, so code that takes a
     * {@link Tracer} (the segment engine) brackets its own regions; only the owning thread's spans
     * become windows.
     */
    public Tracer tracer() {
        return new Tracer() {
            @Override
            public Span span(String name, String category) {
                return Thread.currentThread() == owner && recording ? open(category + "/" + name) : Span.NONE;
            }

            @Override
            public Span span(String name, String category, String argName, long argValue) {
                return span(name, category);
            }

            @Override
            public Span span(String name, String category, String argName, String argValue) {
                return span(name, category);
            }
        };
    }

    /** Stops profiling and returns every window closed by now (one still open is dropped), in closing order. */
    public List<Window> stop() throws IOException {
        checkRecording("stop");
        recording = false;
        JniUtils.stopProfile(file.toString());
        return read(file);
    }

    @Override
    public void close() {
        try {
            if (recording && Thread.currentThread() == owner) {
                recording = false;
                try {
                    JniUtils.stopProfile(file.toString());
                } catch (RuntimeException ignored) {
                    // closing after a failure: the windows are not wanted
                }
            }
        } finally {
            delete(file);
            module.close();
            manager.close();
        }
    }

    /**
     * One window's net bytes as libtorch counted them.
     *
     * @param bytes allocated minus freed inside the window, on the opening thread
     * @param resolution how far {@code bytes} may be from the exact count (DJL prints 2 decimals)
     */
    public record Window(String name, long bytes, long resolution) {}

    /** The windows in a trace file DJL wrote; libtorch's own events are skipped. */
    static List<Window> read(Path trace) throws IOException {
        List<Window> out = new ArrayList<>();
        try (JsonParser p = JSON.getFactory().createParser(trace.toFile())) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new IOException("libtorch's trace " + trace + " is not a JSON array");
            }
            while (p.nextToken() == JsonToken.START_OBJECT) {
                JsonNode e = JSON.readTree(p);
                String name = e.path("name").asText();
                if (!name.startsWith(PREFIX)) {
                    continue;
                }
                JsonNode mem = e.get("cpu mem");
                if (mem == null) {
                    throw new IOException("libtorch's trace " + trace + " has no \"cpu mem\" on window " + name
                            + ": was it written with memory profiling on?");
                }
                out.add(window(name.substring(PREFIX.length()), mem.asText()));
            }
        }
        return out;
    }

    /** DJL's FormatMemory: {@code "%.2f Gb|Mb|Kb"} at or above the unit, else {@code "%d b"}. */
    static Window window(String name, String cpuMem) {
        Matcher m = CPU_MEM.matcher(cpuMem.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("window " + name + ": cannot read libtorch's cpu mem '" + cpuMem
                    + "' (expected e.g. '16.00 Mb' or '344 b')");
        }
        long unit = switch (m.group(2)) {
            case "Gb" -> 1L << 30;
            case "Mb" -> 1L << 20;
            case "Kb" -> 1L << 10;
            default -> 1L;
        };
        BigDecimal value = new BigDecimal(m.group(1));
        long bytes = value.multiply(BigDecimal.valueOf(unit)).setScale(0, java.math.RoundingMode.HALF_EVEN)
                .longValueExact();
        // half of the last printed digit: 0.005 of the unit
        long resolution = unit == 1 ? 0 : (unit + 199) / 200;
        return new Window(name, bytes, resolution);
    }

    private void checkRecording(String what) {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("libtorch's memory profiling is thread-local: cannot " + what
                    + " on thread " + Thread.currentThread().getName() + ", it was started on " + owner.getName());
        }
        if (!recording) {
            throw new IllegalStateException("cannot " + what + ": libtorch's memory profiling was stopped");
        }
    }

    private static void delete(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete libtorch's trace " + file, e);
        }
    }
}
