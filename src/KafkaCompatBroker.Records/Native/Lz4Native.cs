using System.Runtime.InteropServices;

namespace KafkaCompatBroker.Records.Native;

// Bindings to the LZ4 frame API of the system liblz4. Pointers are used because the native API reads and
// writes pinned buffers in place; that is why this file (and its callers) are unsafe.
internal static unsafe partial class Lz4Native
{
    internal const uint Version = 100;

    // LZ4F_blockSizeID_t / LZ4F_blockMode_t values.
    internal const int BlockSize64KB = 4;
    internal const int BlockIndependent = 1;

    static Lz4Native()
    {
        NativeCodecLibraries.EnsureResolver();
    }

    /// <summary>LZ4F_preferences_t (LZ4F_frameInfo_t followed by level and flags).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Preferences
    {
        public int BlockSizeId;
        public int BlockMode;
        public int ContentChecksumFlag;
        public int FrameType;
        public ulong ContentSize;
        public uint DictId;
        public int BlockChecksumFlag;
        public int CompressionLevel;
        public uint AutoFlush;
        public uint FavorDecSpeed;
        public uint Reserved0;
        public uint Reserved1;
        public uint Reserved2;
    }

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nuint LZ4F_createDecompressionContext(nint* dctx, uint version);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nuint LZ4F_freeDecompressionContext(nint dctx);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial void LZ4F_resetDecompressionContext(nint dctx);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nuint LZ4F_decompress(nint dctx, byte* dst, nuint* dstSize, byte* src, nuint* srcSize, void* options);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nuint LZ4F_compressFrameBound(nuint srcSize, Preferences* preferences);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nuint LZ4F_compressFrame(byte* dst, nuint dstCapacity, byte* src, nuint srcSize, Preferences* preferences);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial uint LZ4F_isError(nuint code);

    [LibraryImport(NativeCodecLibraries.Lz4)]
    internal static partial nint LZ4F_getErrorName(nuint code);

    internal static bool IsError(nuint code) => LZ4F_isError(code) != 0;

    internal static string ErrorName(nuint code) => Marshal.PtrToStringUTF8(LZ4F_getErrorName(code)) ?? "unknown lz4 error";
}

/// <summary>Owns an LZ4F decompression context; freed by the finalizer if the owning thread goes away.</summary>
internal sealed unsafe class Lz4DecompressionContext : SafeHandle
{
    public Lz4DecompressionContext()
        : base(0, ownsHandle: true)
    {
        NativeCodecLibraries.EnsureLz4();
        nint context;
        var result = Lz4Native.LZ4F_createDecompressionContext(&context, Lz4Native.Version);
        if (Lz4Native.IsError(result))
        {
            throw new OutOfMemoryException($"LZ4F_createDecompressionContext failed: {Lz4Native.ErrorName(result)}");
        }

        SetHandle(context);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Lz4Native.LZ4F_freeDecompressionContext(handle);
        return true;
    }
}
