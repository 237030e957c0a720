using System.Reflection;
using System.Runtime.InteropServices;

namespace KafkaCompatBroker.Records.Native;

/// <summary>
/// Loads the system compression libraries (zstd, lz4, snappy) for the [LibraryImport] declarations of this
/// assembly. A missing library turns into a <see cref="CompressionException"/> naming the package to install,
/// instead of a bare DllNotFoundException at the first call.
/// </summary>
internal static class NativeCodecLibraries
{
    // The names used in [LibraryImport]; the resolver maps them to the candidates below.
    internal const string Zstd = "libzstd.so.1";
    internal const string Lz4 = "liblz4.so.1";
    internal const string Snappy = "libsnappy.so.1";

    private static readonly string[] ZstdCandidates = [Zstd, "libzstd.so", "libzstd.1.dylib", "libzstd.dll", "zstd"];
    private static readonly string[] Lz4Candidates = [Lz4, "liblz4.so", "liblz4.1.dylib", "liblz4.dll", "lz4"];
    private static readonly string[] SnappyCandidates = [Snappy, "libsnappy.so", "libsnappy.1.dylib", "snappy.dll", "snappy"];

    private static readonly Lock Sync = new();
    private static nint _zstdHandle;
    private static nint _lz4Handle;
    private static nint _snappyHandle;

    static NativeCodecLibraries()
    {
        NativeLibrary.SetDllImportResolver(typeof(NativeCodecLibraries).Assembly, Resolve);
    }

    /// <summary>Makes sure the resolver is registered (touching this class runs its static constructor).</summary>
    internal static void EnsureResolver()
    {
    }

    internal static nint EnsureZstd() => EnsureLoaded(ref _zstdHandle, "zstd", ZstdCandidates, "libzstd1");

    internal static nint EnsureLz4() => EnsureLoaded(ref _lz4Handle, "lz4", Lz4Candidates, "liblz4-1");

    internal static nint EnsureSnappy() => EnsureLoaded(ref _snappyHandle, "snappy", SnappyCandidates, "libsnappy1v5");

    /// <summary>Loads the first candidate that exists, or throws a <see cref="CompressionException"/> naming the Debian package.</summary>
    internal static nint Load(string codec, string[] candidates, string debianPackage)
    {
        foreach (var candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, typeof(NativeCodecLibraries).Assembly, null, out var handle))
            {
                return handle;
            }
        }

        throw new CompressionException(
            RecordBatchError.CodecUnavailable,
            $"{codec} compression needs the native library {candidates[0]}, which could not be loaded; " +
            $"install it (Debian/Ubuntu: apt-get install {debianPackage})");
    }

    private static nint EnsureLoaded(ref nint handle, string codec, string[] candidates, string debianPackage)
    {
        var loaded = Volatile.Read(ref handle);
        if (loaded != 0)
        {
            return loaded;
        }

        lock (Sync)
        {
            if (handle == 0)
            {
                Volatile.Write(ref handle, Load(codec, candidates, debianPackage));
            }

            return handle;
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) => libraryName switch
    {
        Zstd => EnsureZstd(),
        Lz4 => EnsureLz4(),
        Snappy => EnsureSnappy(),
        _ => 0,
    };
}
