using System.Runtime.InteropServices;

namespace KafkaCompatBroker.Records.Native;

// Bindings to the system libzstd. Pointers are used because the native API reads and writes pinned buffers
// in place; that is why this file (and its callers) are unsafe.
internal static unsafe partial class ZstdNative
{
    internal const int ResetSessionOnly = 1;
    internal const int CompressionLevelParameter = 100;

    static ZstdNative()
    {
        NativeCodecLibraries.EnsureResolver();
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct InBuffer
    {
        public byte* Src;
        public nuint Size;
        public nuint Pos;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct OutBuffer
    {
        public byte* Dst;
        public nuint Size;
        public nuint Pos;
    }

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nint ZSTD_createDCtx();

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_freeDCtx(nint dctx);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_DCtx_reset(nint dctx, int reset);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_decompressStream(nint dctx, OutBuffer* output, InBuffer* input);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nint ZSTD_createCCtx();

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_freeCCtx(nint cctx);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_CCtx_setParameter(nint cctx, int parameter, int value);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_compressBound(nuint srcSize);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nuint ZSTD_compress2(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial uint ZSTD_isError(nuint code);

    [LibraryImport(NativeCodecLibraries.Zstd)]
    internal static partial nint ZSTD_getErrorName(nuint code);

    internal static bool IsError(nuint code) => ZSTD_isError(code) != 0;

    internal static string ErrorName(nuint code) => Marshal.PtrToStringUTF8(ZSTD_getErrorName(code)) ?? "unknown zstd error";
}

/// <summary>Owns a ZSTD_DCtx; freed by the finalizer if the owning thread goes away.</summary>
internal sealed class ZstdDecompressionContext : SafeHandle
{
    public ZstdDecompressionContext()
        : base(0, ownsHandle: true)
    {
        NativeCodecLibraries.EnsureZstd();
        SetHandle(ZstdNative.ZSTD_createDCtx());
        if (IsInvalid)
        {
            throw new OutOfMemoryException("ZSTD_createDCtx failed");
        }
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        ZstdNative.ZSTD_freeDCtx(handle);
        return true;
    }
}

/// <summary>Owns a ZSTD_CCtx.</summary>
internal sealed class ZstdCompressionContext : SafeHandle
{
    public ZstdCompressionContext()
        : base(0, ownsHandle: true)
    {
        NativeCodecLibraries.EnsureZstd();
        SetHandle(ZstdNative.ZSTD_createCCtx());
        if (IsInvalid)
        {
            throw new OutOfMemoryException("ZSTD_createCCtx failed");
        }
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        ZstdNative.ZSTD_freeCCtx(handle);
        return true;
    }
}
