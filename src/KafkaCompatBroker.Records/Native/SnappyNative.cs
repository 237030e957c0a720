using System.Runtime.InteropServices;

namespace KafkaCompatBroker.Records.Native;

// Bindings to the C API of the system libsnappy. Pointers are used because the native API reads and
// writes pinned buffers in place; that is why this file (and its callers) are unsafe.
internal static unsafe partial class SnappyNative
{
    internal const int Ok = 0;
    internal const int InvalidInput = 1;
    internal const int BufferTooSmall = 2;

    static SnappyNative()
    {
        NativeCodecLibraries.EnsureResolver();
    }

    [LibraryImport(NativeCodecLibraries.Snappy)]
    internal static partial int snappy_compress(byte* input, nuint inputLength, byte* compressed, nuint* compressedLength);

    [LibraryImport(NativeCodecLibraries.Snappy)]
    internal static partial int snappy_uncompress(byte* compressed, nuint compressedLength, byte* uncompressed, nuint* uncompressedLength);

    [LibraryImport(NativeCodecLibraries.Snappy)]
    internal static partial nuint snappy_max_compressed_length(nuint sourceLength);

    [LibraryImport(NativeCodecLibraries.Snappy)]
    internal static partial int snappy_uncompressed_length(byte* compressed, nuint compressedLength, nuint* result);

    [LibraryImport(NativeCodecLibraries.Snappy)]
    internal static partial int snappy_validate_compressed_buffer(byte* compressed, nuint compressedLength);
}
