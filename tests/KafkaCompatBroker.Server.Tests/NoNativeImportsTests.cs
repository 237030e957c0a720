using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Issue 15: the broker runs with no native library installed. Every src project's assembly, and the codec
/// packages the Records layer uses, must declare no P/Invoke ([DllImport] or [LibraryImport], which compiles
/// to one) into any library but libc, which every Linux has and the runtime itself loads (Storage calls fsync
/// and pwritev there). Metadata is read without loading the assemblies.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public class NoNativeImportsTests
{
    private static readonly string[] CodecAssemblies = ["Snappier", "ZstdSharp", "K4os.Compression.LZ4", "K4os.Compression.LZ4.Streams", "K4os.Hash.xxHash"];

    public static TheoryData<string> Assemblies()
    {
        var data = new TheoryData<string>();
        foreach (var project in Directory.GetDirectories(Path.Combine(ServerProcess.RepoRoot(), "src")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(project));
        }

        foreach (var codec in CodecAssemblies)
        {
            data.Add(codec);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Assembly_DeclaresNoPInvoke(string assembly)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assembly + ".dll");
        Assert.True(File.Exists(path), $"{path} is missing: the server's output should contain it");

        var imports = PInvokeMethods(path).Where(import => !import.EndsWith(" -> libc", StringComparison.Ordinal)).ToList();

        Assert.True(imports.Count == 0, $"{assembly} declares P/Invoke methods into native libraries: {string.Join(", ", imports)}");
    }

    [Fact]
    public void PInvokeMethods_AssemblyWithDllImport_FindsIt()
    {
        // This test assembly declares one below, so the scan is shown to see them.
        var imports = PInvokeMethods(typeof(NoNativeImportsTests).Assembly.Location);

        Assert.Contains($"{nameof(NativeSample)}.{nameof(NativeSample.frobnicate)} -> libfrobnicate", imports);
    }

    private static List<string> PInvokeMethods(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var found = new List<string>();
        foreach (var handle in reader.MethodDefinitions)
        {
            var method = reader.GetMethodDefinition(handle);
            if ((method.Attributes & MethodAttributes.PinvokeImpl) != 0)
            {
                var type = reader.GetTypeDefinition(method.GetDeclaringType());
                var module = reader.GetModuleReference(method.GetImport().Module);
                found.Add($"{reader.GetString(type.Name)}.{reader.GetString(method.Name)} -> {reader.GetString(module.Name)}");
            }
        }

        return found;
    }

    private static class NativeSample
    {
        // Never called (the library does not exist): it exists so the scan has something to find.
        [System.Runtime.InteropServices.DllImport("libfrobnicate")]
#pragma warning disable SYSLIB1054 // the point is a classic DllImport
        internal static extern int frobnicate();
#pragma warning restore SYSLIB1054
    }
}
