package ai.omnispark.parallel.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a TorchScript archive ({@code torch.jit.load}'s format) for a parameterless module whose
 * code is given as TorchScript source, so libtorch ops that DJL does not expose can be reached
 * without Python or a committed binary.
 *
 * <p>The zip holds, under one top-level folder: {@code version} (the file-format version),
 * {@code code/__torch__.py} (the class source, resolved by the importer from the qualified name
 * {@code __torch__.<Class>}), {@code constants.pkl} (an empty tuple: the code has no tensor
 * constants) and {@code data.pkl}: a protocol-2 pickle of the module object exactly as libtorch's
 * pickler writes one without {@code __getstate__}: {@code GLOBAL __torch__ <Class>}, an empty
 * tuple, {@code NEWOBJ}, then a dict of every declared attribute applied with {@code BUILD}. The
 * only attribute declared is {@code training}, which every module class carries.
 *
 * <p>The same writer as models' {@code nn.attention.TorchScriptArchive} (package-private there),
 * here so the parallel module can reach libtorch's profiler ops; the attention code can switch to
 * this one and drop its copy.
 */
public final class TorchScriptArchive {
    /**
     * File-format version 3: ops whose semantics changed later are upgraded on load when the file
     * is older than their change, so the code must only use ops without upgraders (true of the
     * comparison, arange, logical, SDPA and profiler calls written with it).
     */
    private static final String FORMAT_VERSION = "3\n";
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private TorchScriptArchive() {}

    /**
     * @param className the module's class; its source must declare {@code class <className>(Module):}
     *     with {@code training : bool} as its only attribute
     * @param source the whole {@code code/__torch__.py}
     * @return the archive's bytes
     */
    public static byte[] module(String className, String source) {
        if (!IDENTIFIER.matcher(className).matches()) {
            throw new IllegalArgumentException("TorchScript class name must be an identifier, got '" + className + "'");
        }
        if (!source.contains("class " + className + "(Module):")) {
            throw new IllegalArgumentException("TorchScript source does not define module class " + className);
        }
        String root = className.toLowerCase(java.util.Locale.ROOT) + "/";
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            // torch.jit.load takes the folder of the first entry as the archive's root.
            stored(zip, root + "data.pkl", moduleObjectPickle(className));
            stored(zip, root + "code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
            stored(zip, root + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            stored(zip, root + "version", FORMAT_VERSION.getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException("writing a TorchScript archive in memory", e);
        }
        return bytes.toByteArray();
    }

    /** The object pickle libtorch writes for a module of {@code className} with {@code training = True}. */
    static byte[] moduleObjectPickle(String className) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80); // PROTO
        p.write(2);
        p.write('c'); // GLOBAL module\nname\n
        p.writeBytes(("__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII));
        p.write(')'); // EMPTY_TUPLE
        p.write(0x81); // NEWOBJ
        p.write('}'); // EMPTY_DICT
        p.write('('); // MARK
        byte[] key = "training".getBytes(StandardCharsets.UTF_8);
        p.write('X'); // BINUNICODE, 4-byte little-endian length
        p.write(key.length);
        p.write(0);
        p.write(0);
        p.write(0);
        p.writeBytes(key);
        p.write(0x88); // NEWTRUE
        p.write('u'); // SETITEMS
        p.write('b'); // BUILD
        p.write('.'); // STOP
        return p.toByteArray();
    }

    /** Uncompressed entries: the reader needs no inflater and offsets stay simple. */
    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        entry.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }
}
